"""Fault 4: on a full log disk every record is written whole or not at all, what is lost is
counted, and a "lost N lines" record is written when writing works again. Two real full file
systems: a small tmpfs (root) and RLIMIT_FSIZE in a child process (any user)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.test_full_disk import fill

SCENARIO = Path(__file__).with_name("log_scenario.py")
LINES = 3000


@pytest.fixture(params=["tmpfs", "rlimit"] if os.geteuid() == 0 else ["rlimit"])
def full_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    folder = tmp_path / "logs"
    folder.mkdir()
    if request.param == "rlimit":
        yield ["--dir", str(folder), "--fsize", "65536"]
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], check=True)
    try:
        # Leave a little room so the files open and the first records land.
        filler = fill(folder)
        with filler.open("r+b") as handle:
            handle.truncate(max(0, filler.stat().st_size - 64 * 1024))
        yield ["--dir", str(folder), "--filler", str(filler)]
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def run(args: list[str]) -> tuple[dict[str, Any], Path]:
    proc = subprocess.run(
        [sys.executable, str(SCENARIO), *args, "--lines", str(LINES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    stats: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return stats, Path(args[1]) / "bot"


def test_full_log_disk_loses_whole_records_and_says_how_many(full_disk: list[str]) -> None:
    stats, folder = run(full_disk)
    assert stats["while_full"]["write_errors"] > 0  # the disk really was full
    assert stats["while_full"]["lost_lines"] > 0
    assert stats["after"]["lost_lines"] == 0  # reported in the files since

    records = []
    for line in (folder / "bot_structured.log").read_bytes().splitlines(keepends=True):
        assert line.endswith(b"\n")
        records.append(json.loads(line))  # no torn, glued or partial line
    notices = [r for r in records if r.get("stream") == "sink" and "lost" in r]
    assert notices and all(r["level"] == "error" for r in notices)
    kept = [r for r in records if r.get("stream") == "stdout"]
    # Every line is either in the file or counted as lost.
    assert len(kept) + sum(r["lost"] for r in notices) == LINES + 10
    assert [r["msg"] for r in kept[-10:]] == [f"after {i}" for i in range(10)]

    readable = (folder / "bot.log").read_text().splitlines()
    for line in readable:
        assert line[:4].isdigit() and ("before " in line or "after " in line or "lost " in line)
    lost_readable = [line for line in readable if "lost " in line and "log writes failed" in line]
    assert lost_readable
