"""Log pipeline benchmark: our logger and capture path beside their baselines, in one run.

1. Logger: N records with 5 fields each.
   baseline  stdlib logging.FileHandler + a json.dumps formatter (the caller formats and writes)
   ours      configure_logging(stream=sink.stream_for(...)): orjson on the caller, LogSink writes
   Reported: records/s until everything is on disk, and the caller thread's p50/p99 per call.
2. Capture: N child-output lines.
   baseline  the same lines written straight to one file (buffered writes)
   ours      LogSink.submit() of every line until flush() returns (parses, renders, writes the
             readable and structured files)

Each side runs --rounds times, alternating, and the median round is reported: on a shared
machine one round of either side can be slowed by a neighbour.

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


def bench_ours(directory: Path, n: int) -> dict[str, float]:
    sink = LogSink(SinkConfig(log_dir=directory / "ours", queue_size=max(n, 1000)))
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
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="gk-bench-logs-"))
    try:
        lines = [
            f"2024-05-01 12:00:{i % 60:02d} tick {i:07d} price=101.25 grid=ok\n".encode()
            for i in range(args.lines)
        ]
        runs: dict[str, list[Any]] = {"base": [], "ours": [], "direct": [], "capture": []}
        for round_no in range(args.rounds):
            here = directory / str(round_no)
            here.mkdir()
            runs["base"].append(bench_stdlib(here, args.records))
            runs["ours"].append(bench_ours(here, args.records))
            runs["direct"].append(bench_direct_write(here, lines))
            runs["capture"].append(bench_capture(here, lines))
            shutil.rmtree(here, ignore_errors=True)
        base = _median_run(runs["base"])
        ours = _median_run(runs["ours"])
        direct = statistics.median(runs["direct"])
        capture = statistics.median(runs["capture"])
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        logging.getLogger().handlers.clear()

    print(f"logger: {args.records} records, 5 fields each")
    print(f"{'':34} {'records/s':>12} {'p50 us':>9} {'p99 us':>9}")
    print(
        f"{'stdlib FileHandler + json.dumps':34} {base['rate']:>12,.0f} "
        f"{base['p50']:>9.1f} {base['p99']:>9.1f}"
    )
    print(
        f"{'gridkeeper logger -> LogSink':34} {ours['rate']:>12,.0f} "
        f"{ours['p50']:>9.1f} {ours['p99']:>9.1f}"
    )
    print(
        f"ratio: throughput {ours['rate'] / base['rate']:.2f}x (target >= 2x), "
        f"caller p99 {ours['p99'] / base['p99']:.2f}x (target <= 0.5x), "
        f"caller p50 {ours['p50'] / base['p50']:.2f}x"
    )
    print()
    print(f"capture: {args.lines} lines")
    print(f"{'':34} {'lines/s':>12}")
    print(f"{'straight to one file':34} {direct:>12,.0f}")
    print(f"{'LogSink.submit until flushed':34} {capture:>12,.0f}")
    print(f"ratio: {capture / direct:.2f}x (the sink also parses levels and writes 2 files)")


def _median_run(results: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the rounds."""
    pick: Callable[[str], float] = lambda key: statistics.median(r[key] for r in results)  # noqa: E731
    return {key: pick(key) for key in results[0]}


if __name__ == "__main__":
    main()
