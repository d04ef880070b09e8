"""A bot must never block on logging (issue 11: a dead keeper stalls chatty bots): with nobody
reading its stderr pipe it goes on, dropping whole lines and counting them, and reports the
count when the reader is back. No line is torn."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

SCENARIO = Path(__file__).with_name("stalled_log.py")
TOTAL = 20_000  # ~4 MB: 60 times what a pipe holds


def test_a_full_log_pipe_never_blocks_the_program() -> None:
    proc = subprocess.Popen(
        [sys.executable, str(SCENARIO), str(TOTAL)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
    try:
        # Nobody reads stderr yet: a blocking writer would never get here.
        done = proc.stdout.readline().split()
        assert done and done[0] == b"done", done
        dropped = int(done[1])
        assert dropped > 0
        chunks: list[bytes] = []
        reader = threading.Thread(target=lambda: chunks.append(proc.stderr.read()))  # type: ignore[union-attr]
        reader.start()
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0
        reader.join(timeout=30)
    finally:
        proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            pipe.close()
    lines = b"".join(chunks).decode().splitlines()
    records = [json.loads(line) for line in lines]  # every line whole
    notices = [r for r in records if r["event"] == "log_lines_dropped"]
    kept = [r for r in records if r["event"] == "line"]
    assert notices and notices[0]["level"] == "error"
    assert len(kept) + sum(n["dropped"] for n in notices) == TOTAL
    assert [r["i"] for r in records if r["event"] == "after"] == list(range(10))
