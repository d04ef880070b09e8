"""Log pipeline benchmark: our logger and capture path beside their baselines, in one run.

1. Logger: N records with 5 fields each.
   baseline  stdlib logging.FileHandler + a json.dumps formatter (the caller formats and writes)
   ours      configure_logging(stream=sink.stream_for(...)): the caller hands the fields over,
             the LogSink's writer renders the readable, errors and structured files
   ours+4    the same with 4 secrets configured (every line is masked)
   Reported: records/s until every record has been written to its file(s) (handed to the OS by
   write(); neither side fsyncs), and the caller thread's p50/p99 per call.
2. Capture: N child-output lines.
   baseline  the same lines written straight to one file (buffered writes)
   ours      LogSink.submit() of every line until flush() returns (parses, renders, writes the
             readable and structured files)

Each round runs every side once, the order reversed every other round (A B, B A, ...), and the
ratios are taken within a round, whose sides ran seconds apart: on a shared machine a neighbour
can slow a whole round. Reported: each side's median over the rounds, and the median of the
per-round ratios.

Usage: python benchmarks/logs.py [--records N] [--lines N] [--rounds N]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from gridkeeper.logs import LogSink, SinkConfig, configure_logging, get_logger

FIELDS = {"symbol": "SOL_USDC", "price": 101.25, "qty": 0.5, "side": "buy", "order_id": 123456}


class JsonFormatter(logging.Formatter):
    """The usual stdlib JSON formatter: a dict per record through json.dumps."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        data.update(getattr(record, "fields", {}))
        return json.dumps(data)


def _percentiles(samples: list[int]) -> tuple[float, float]:
    samples.sort()
    p50 = samples[len(samples) // 2] / 1000
    p99 = samples[int(len(samples) * 0.99)] / 1000
    return p50, p99


def bench_stdlib(directory: Path, n: int) -> dict[str, float]:
    handler = logging.FileHandler(directory / "stdlib.log")
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("bench.stdlib")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    latencies = [0] * n
    clock = time.perf_counter_ns
    extra = {"fields": FIELDS}
    gc.collect()
    start = time.perf_counter()
    for i in range(n):
        t0 = clock()
        log.info("order placed", extra=extra)
        latencies[i] = clock() - t0
    handler.close()
    elapsed = time.perf_counter() - start
    log.removeHandler(handler)
    p50, p99 = _percentiles(latencies)
    return {"rate": n / elapsed, "p50": p50, "p99": p99}


SECRETS = frozenset({"sk-live-4f9a8b7c6d5e", "hunter2-pass", "123456:AAF-bot-token", "s3cr3t"})


def bench_ours(directory: Path, n: int, secrets: frozenset[str] = frozenset()) -> dict[str, float]:
    sink = LogSink(SinkConfig(log_dir=directory / "ours", queue_size=max(n, 1000), redact=secrets))
    sink.start()
    configure_logging("info", json=True, stream=sink.stream_for("bench"))
    log = get_logger("bench.ours")
    latencies = [0] * n
    clock = time.perf_counter_ns
    gc.collect()
    start = time.perf_counter()
    for i in range(n):
        t0 = clock()
        log.info("order placed", **FIELDS)
        latencies[i] = clock() - t0
    ok = sink.flush(timeout=120)
    elapsed = time.perf_counter() - start
    sink.close()
    if not ok or sink.stats["written"] != n:
        raise SystemExit(f"our logger lost records: {sink.stats}")
    p50, p99 = _percentiles(latencies)
    return {"rate": n / elapsed, "p50": p50, "p99": p99}


def bench_direct_write(directory: Path, lines: list[bytes]) -> float:
    gc.collect()
    start = time.perf_counter()
    with (directory / "direct.log").open("wb") as file:
        for line in lines:
            file.write(line)
    return len(lines) / (time.perf_counter() - start)


def bench_capture(directory: Path, lines: list[bytes]) -> float:
    sink = LogSink(SinkConfig(log_dir=directory / "capture", queue_size=len(lines) + 1000))
    sink.start()
    submit = sink.submit
    gc.collect()
    start = time.perf_counter()
    for line in lines:
        submit("bot1", "stdout", line)
    ok = sink.flush(timeout=300)
    elapsed = time.perf_counter() - start
    sink.close()
    if not ok or sink.stats["written"] != len(lines):
        raise SystemExit(f"capture lost lines: {sink.stats}")
    return len(lines) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="gk-bench-logs-"))
    lines = [
        f"2024-05-01 12:00:{i % 60:02d} tick {i:07d} price=101.25 grid=ok\n".encode()
        for i in range(args.lines)
    ]
    runs: dict[str, list[Any]] = {name: [] for name in ("base", "ours", "secrets", "direct", "cap")}
    try:
        for round_no in range(args.rounds):
            here = directory / str(round_no)
            here.mkdir()
            sides: list[tuple[str, Callable[[], Any]]] = [
                ("base", partial(bench_stdlib, here, args.records)),
                ("ours", partial(bench_ours, here / "a", args.records)),
                ("secrets", partial(bench_ours, here / "b", args.records, SECRETS)),
                ("direct", partial(bench_direct_write, here, lines)),
                ("cap", partial(bench_capture, here, lines)),
            ]
            for name, run in sides if round_no % 2 == 0 else reversed(sides):
                runs[name].append(run())
            shutil.rmtree(here, ignore_errors=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        logging.getLogger().handlers.clear()
    _report(args, runs)


def _report(args: argparse.Namespace, runs: dict[str, list[Any]]) -> None:
    base = _median_run(runs["base"])
    rows = [
        ("stdlib FileHandler + json.dumps", base),
        ("gridkeeper logger -> LogSink", _median_run(runs["ours"])),
        ("  the same, 4 secrets masked", _median_run(runs["secrets"])),
    ]
    print(f"logger: {args.records} records, 5 fields each, median of {args.rounds} rounds")
    print(f"{'':34} {'records/s':>12} {'p50 us':>9} {'p99 us':>9}")
    for label, row in rows:
        print(f"{label:34} {row['rate']:>12,.0f} {row['p50']:>9.1f} {row['p99']:>9.1f}")
    for label, name in (("ours", "ours"), ("ours, 4 secrets", "secrets")):
        pairs = list(zip(runs["base"], runs[name], strict=True))
        rate = [mine["rate"] / theirs["rate"] for theirs, mine in pairs]
        p99 = [mine["p99"] / theirs["p99"] for theirs, mine in pairs]
        p50 = [mine["p50"] / theirs["p50"] for theirs, mine in pairs]
        print(
            f"ratio ({label}): throughput {statistics.median(rate):.2f}x "
            f"(rounds {min(rate):.2f}-{max(rate):.2f}; target >= 2x), "
            f"caller p99 {statistics.median(p99):.2f}x (target <= 0.5x), "
            f"caller p50 {statistics.median(p50):.2f}x"
        )
    print()
    direct = statistics.median(runs["direct"])
    capture = statistics.median(runs["cap"])
    ratios = [mine / theirs for theirs, mine in zip(runs["direct"], runs["cap"], strict=True)]
    print(f"capture: {args.lines} lines, median of {args.rounds} rounds")
    print(f"{'':34} {'lines/s':>12}")
    print(f"{'straight to one file':34} {direct:>12,.0f}")
    print(f"{'LogSink.submit until flushed':34} {capture:>12,.0f}")
    print(
        f"ratio: {statistics.median(ratios):.3f}x (the sink also parses levels and writes 2 files)"
    )


def _median_run(results: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the rounds."""
    pick: Callable[[str], float] = lambda key: statistics.median(r[key] for r in results)  # noqa: E731
    return {key: pick(key) for key in results[0]}


if __name__ == "__main__":
    main()
