"""Reader: log_path, tail from the end, follow across rotation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from gridkeeper.logs import LogSink
from gridkeeper.logs.reader import follow, log_path, tail
from tests.support import wait_for


def test_log_path_kinds(tmp_path: Path) -> None:
    """The three kinds map to the three file names in the instance directory."""
    assert log_path(tmp_path, "bot1") == tmp_path / "bot1" / "bot1.log"
    assert log_path(tmp_path, "bot1", "errors") == tmp_path / "bot1" / "bot1_errors.log"
    assert log_path(tmp_path, "bot1", "structured") == tmp_path / "bot1" / "bot1_structured.log"


def test_tail_reads_last_lines_of_a_large_file(tmp_path: Path) -> None:
    """tail returns exactly the last N lines, also when they span several read blocks."""
    path = tmp_path / "big.log"
    path.write_text("".join(f"line {i} {'x' * 50}\n" for i in range(20_000)))
    last = tail(path, 3)
    assert [line.split()[1] for line in last] == ["19997", "19998", "19999"]
    assert len(tail(path, 5000)) == 5000
    assert tail(path, 5000)[0].startswith("line 15000 ")
    short = tmp_path / "short.log"
    short.write_text("a\nb")
    assert tail(short, 10) == ["a", "b"]
    assert tail(short, 0) == []


class _Follower:
    def __init__(self, path: Path) -> None:
        self.lines: list[str] = []
        self.stop = threading.Event()
        # from_start: no race between the follower opening the file and the first writes.
        self._iter: Iterator[str] = follow(path, poll_s=0.01, stop=self.stop, from_start=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for line in self._iter:
            self.lines.append(line)

    def wait_lines(self, count: int) -> None:
        wait_for(lambda: len(self.lines) >= count, 10, f"the follower to see {count} lines")

    def close(self) -> None:
        self.stop.set()
        self._thread.join(5)


def test_follow_survives_rotation(make_sink: Callable[..., LogSink], tmp_path: Path) -> None:
    """Following the live file yields every new line in order while the sink rotates it."""
    sink = make_sink(rotate_bytes=2000, backups=100)
    sink.start()
    sink.submit("bot1", "stdout", "before following")
    assert sink.flush()
    path = log_path(tmp_path / "logs", "bot1")
    follower = _Follower(path)
    follower.wait_lines(1)
    total = 1
    for batch in range(10):
        # Each batch (~1.2 KB) rotates the file at most once, so no file is skipped.
        for i in range(20):
            sink.submit("bot1", "stdout", f"b{batch:02d} n{i:02d} {'y' * 20}")
        total += 20
        assert sink.flush()
        follower.wait_lines(total)
    follower.close()
    assert sink.stats["rotations"] >= 4
    assert follower.lines[0].endswith("before following")
    seen = [line.split()[2] + " " + line.split()[3] for line in follower.lines[1:]]
    assert seen == [f"b{b:02d} n{i:02d}" for b in range(10) for i in range(20)]


def test_follow_waits_for_missing_file(tmp_path: Path) -> None:
    """A file that does not exist yet is waited for, then read as it grows."""
    path = tmp_path / "late.log"
    follower = _Follower(path)
    path.write_text("first\n")
    follower.wait_lines(1)
    with path.open("a") as file:
        file.write("second\npart")
    follower.wait_lines(2)
    with path.open("a") as file:
        file.write("ial\n")
    follower.wait_lines(3)
    follower.close()
    assert follower.lines == ["first", "second", "partial"]
