"""Run in a child process by test_log_disk_full.py: a real LogSink writes through a disk that
fills up and then frees again. Either `--filler FILE` (a full tmpfs: the file is deleted to free
space) or `--fsize BYTES` (RLIMIT_FSIZE: the limit is lifted to "free space"). Prints the
sink's stats as JSON."""

from __future__ import annotations

import argparse
import json
import resource
from pathlib import Path

from gridkeeper.logs import LogSink, SinkConfig


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--filler", type=Path)
    parser.add_argument("--fsize", type=int)
    parser.add_argument("--lines", type=int, default=3000)
    args = parser.parse_args()
    if args.fsize:
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize, hard))
    sink = LogSink(SinkConfig(log_dir=args.dir, compress=False))
    sink.start()
    pad = "x" * 90
    for i in range(args.lines):  # far more than fits
        sink.submit("bot", "stdout", f"before {i} {pad}")
        if i % 100 == 99:
            assert sink.flush()
    assert sink.flush()
    full = sink.stats
    if args.filler:
        args.filler.unlink()
    if args.fsize:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    for i in range(10):
        sink.submit("bot", "stdout", f"after {i}")
    assert sink.flush()
    sink.close()
    print(json.dumps({"while_full": full, "after": sink.stats}))


if __name__ == "__main__":
    main()
