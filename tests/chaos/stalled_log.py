"""Run by test_stalled_log.py with stderr on a pipe nobody reads: logs far more than the pipe
holds, says `done` on stdout (it did not block), waits for `go` on stdin (the reader is back),
then logs 10 more lines and exits."""

from __future__ import annotations

import sys

from gridkeeper.logs import configure_logging, get_logger
from gridkeeper.logs.dropping import DroppingStream


def main() -> None:
    total = int(sys.argv[1])
    stream = DroppingStream(2, max_pending=64 * 1024)
    configure_logging("info", stream=stream, json=True, route_structlog=False)  # type: ignore[arg-type]
    log = get_logger("chatty")
    for i in range(total):
        log.info("line", i=i, pad="x" * 150)
    print(f"done {stream.dropped_total}", flush=True)
    sys.stdin.readline()
    assert stream.drain(timeout_s=30)  # the reader is back: what waited, then the notice
    for i in range(10):
        log.info("after", i=i)
    assert stream.drain(timeout_s=30)


if __name__ == "__main__":
    main()
