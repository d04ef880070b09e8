"""Backtest speed: 30 days of 1-minute bars through a 50-level grid, beside a no-op loop, the
live bot on the paper exchange, and a sweep on 1 core vs all.

    .venv/bin/python benchmarks/backtest.py [--days 30] [--live-bars 50] [--sweep 100]
                                            [--sweep-days 1]

1. The bars come from the seeded sample generator (gridkeeper.backtest.sample). The no-op loop
   walks the same price path (4 prices a bar) doing nothing. Target: the backtest in <= 2 s.
2. Live: the first `--live-bars` bars through the real bot on the paper exchange, as fast as it
   acts on every price (benchmarks/backtest_live.py), extrapolated per bar, beside the
   backtester's time per bar. Target: the backtester >= 100x faster.
3. Sweep: `--sweep N` combinations (grid_num 20.., on the first `--sweep-days` days) with 1
   worker and with every core; the speed-up.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from backtest_live import replay_live

from gridkeeper.backtest.data import PricePath, load_prices
from gridkeeper.backtest.model import SimSetup
from gridkeeper.backtest.sample import write
from gridkeeper.backtest.setup import make_setup
from gridkeeper.backtest.sim import run_backtest
from gridkeeper.backtest.sweep import run_sweep

GRID = {
    "metadata": {"instance_id": "bench", "symbol": "SOL_USDC_PERP", "strategy": "perp_grid"},
    "strategy_config": {
        "grid_lower_price": 128,
        "grid_upper_price": 152,
        "grid_num": 50,
        "order_quantity": 1,
        "boundary_action": "pause",
    },
}
TARGET_S = 2.0
TARGET_RATIO = 100.0


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--live-bars", type=int, default=50, help="0: skip the live replay")
    parser.add_argument("--sweep", type=int, default=100, help="0: skip the sweep")
    parser.add_argument("--sweep-days", type=float, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "bars.csv"
        write(data, args.days, 11, 140.0)
        path = load_prices(data)
        setup = make_setup(GRID, None, first_price=path.prices[0])
        started = time.perf_counter()
        acc = Decimal(0)
        for price in path.prices:  # the no-op loop: the same bars, nothing done
            acc = price
        noop = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        result = run_backtest(setup, path)
        took, took_cpu = time.perf_counter() - started, time.process_time() - cpu
        s = result.summary
        per_bar = took / path.bars
        print(f"bars: {path.bars}, prices played: {len(path.prices)}, last {acc}")
        print(f"no-op loop:  {noop:.3f} s")
        # On a shared machine the wall time includes waiting for a core; the CPU time is what
        # the run itself costs (the two agree on an idle machine).
        print(
            f"backtest:    {took:.3f} s wall, {took_cpu:.3f} s CPU (load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)  target <= {TARGET_S:g} s: "
            f"wall {_verdict(took <= TARGET_S)}, CPU {_verdict(took_cpu <= TARGET_S)}"
        )
        print(f"  cycles run: {s['cycles']}  ({per_bar * 1e6:.0f} us a bar)")
        print(f"  fills {s['fills']}, round trips {s['round_trips']}, total_pnl {s['total_pnl']}")
        if args.live_bars:
            _live(setup, path, args.live_bars, per_bar)
        if args.sweep:
            _sweep(setup, data, path, args.sweep, args.sweep_days, tmp)


def _live(setup: SimSetup, path: PricePath, bars: int, backtest_per_bar: float) -> None:
    n = min(len(path.prices), bars * 4 + 1)  # 4 prices a bar, plus the one that lays the grid
    prices = path.prices[:n]
    live_s, live_fills, grid = replay_live(GRID["strategy_config"], prices)
    live_per_bar = live_s / ((n - 1) / 4)
    slice_path = PricePath(path.times[:n], prices, path.kind, (n - 1) // 4)
    started = time.perf_counter()
    sliced = run_backtest(setup, slice_path)
    slice_s = time.perf_counter() - started
    ratio = live_per_bar / backtest_per_bar
    print(
        f"live bot on the paper exchange, {(n - 1) // 4} bars ({n - 1} prices): {live_s:.1f} s "
        f"= {live_per_bar * 1000:.0f} ms a bar (-> {live_per_bar * path.bars / 3600:.1f} h for "
        f"the {path.bars} bars)"
    )
    print(
        f"  same bars through the backtester: {slice_s * 1000:.0f} ms (start-up included); fills "
        f"live {live_fills}, backtest {sliced.summary['fills']}; total_pnl live "
        f"{grid['profit']['total_pnl']}, backtest {sliced.summary['total_pnl']}"
    )
    print(
        f"  backtester vs live, per bar: {ratio:,.0f}x faster "
        f"(target >= {TARGET_RATIO:g}x: {_verdict(ratio >= TARGET_RATIO)})"
    )


def _sweep(setup: SimSetup, data: Path, path: PricePath, count: int, days: float, tmp: str) -> None:
    end_ms = path.times[0] + int(days * 86_400_000) - 1
    sweeps = [("grid_num", [str(20 + i) for i in range(count)])]
    timings: dict[int, float] = {}
    for workers in sorted({1, os.cpu_count() or 1}):
        started = time.perf_counter()
        rows = run_sweep(setup, data, sweeps, workers=workers, end_ms=end_ms)
        timings[workers] = time.perf_counter() - started
        errors = sum(1 for r in rows if "error" in r)
        print(
            f"sweep of {count} combinations ({days:g} days each) on {workers} worker(s): "
            f"{timings[workers]:.1f} s ({errors} refused)"
        )
    if len(timings) > 1:
        cores = max(timings)
        print(f"  speed-up on {cores} cores: {timings[1] / timings[cores]:.2f}x")


if __name__ == "__main__":
    main()
