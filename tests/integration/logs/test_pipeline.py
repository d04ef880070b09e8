"""The whole capture path with a real child: every line survives many rotations exactly once."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import pytest

from gridkeeper.logs import LogSink, SinkConfig

LINES = 200_000
CHILD = f"""
import sys
out = sys.stdout
for i in range({LINES}):
    out.write(f"tick {{i:06d}} price=101.5 grid=ok\\n")
    if i % 50_000 == 0:
        sys.stderr.write(f"ERROR: checkpoint {{i}}\\n")
"""


def _pump(sink: LogSink, pipe: IO[bytes], stream: str) -> None:
    for line in pipe:
        sink.submit("bot1", stream, line)  # type: ignore[arg-type]


def _all_lines(directory: Path, live: str) -> list[str]:
    lines: list[str] = []
    for path in sorted(directory.iterdir()):
        if path.name == live:
            lines.extend(path.read_text().splitlines())
        elif path.name.startswith(live + ".") and path.name.endswith(".gz"):
            lines.extend(gzip.decompress(path.read_bytes()).decode().splitlines())
        elif path.name.startswith(live + "."):
            pytest.fail(f"rotated file left uncompressed: {path.name}")
    return lines


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_two_hundred_thousand_lines_survive_rotation(tmp_path: Path) -> None:
    """Every numbered line of a child's stdout is found exactly once across live + gz files."""
    config = SinkConfig(
        log_dir=tmp_path / "logs",
        rotate_bytes=256 * 1024,
        backups=1000,
        max_total_bytes=10**10,
        queue_size=LINES * 2,
    )
    sink = LogSink(config)
    sink.start()
    with subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as child:
        assert child.stdout is not None
        assert child.stderr is not None
        pumps = [
            threading.Thread(target=_pump, args=(sink, child.stdout, "stdout")),
            threading.Thread(target=_pump, args=(sink, child.stderr, "stderr")),
        ]
        for pump in pumps:
            pump.start()
        assert child.wait(timeout=60) == 0
        for pump in pumps:
            pump.join(30)
    sink.close()

    stats = sink.stats
    assert stats["dropped"] == 0
    assert stats["written"] == LINES + 4
    assert stats["rotations"] >= 30

    directory = tmp_path / "logs" / "bot1"
    number = re.compile(r"tick (\d{6}) ")
    readable = _all_lines(directory, "bot1.log")
    found = sorted(int(m.group(1)) for line in readable if (m := number.search(line)))
    assert found == list(range(LINES))

    structured = _all_lines(directory, "bot1_structured.log")
    records = [json.loads(line) for line in structured]
    numbers = sorted(int(r["msg"].split()[1]) for r in records if r["msg"].startswith("tick"))
    assert numbers == list(range(LINES))
    assert {r["instance"] for r in records} == {"bot1"}

    errors = _all_lines(directory, "bot1_errors.log")
    assert [line.rsplit(" ", 1)[1] for line in errors] == ["0", "50000", "100000", "150000"]
