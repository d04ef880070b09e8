"""Backtest speed: 30 days of 1-minute bars through a 50-level grid, beside a no-op loop.

    .venv/bin/python benchmarks/backtest.py [--days 30] [--sweep 0]

The bars come from the seeded sample generator (gridkeeper.backtest.sample). The no-op loop
walks the same price path (4 prices a bar) doing nothing, so the difference is the backtest's
own cost. Target: the backtest in <= 2 s. `--sweep N` also runs N combinations of grid_num
with 1 worker and with every core, and prints the speed-up.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from gridkeeper.backtest.data import load_prices
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--sweep", type=int, default=0)
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
        started = time.perf_counter()
        result = run_backtest(setup, path)
        took = time.perf_counter() - started
        s = result.summary
        print(f"bars: {path.bars}, prices played: {len(path.prices)}, last {acc}")
        print(f"no-op loop:  {noop:.3f} s")
        print(f"backtest:    {took:.3f} s  (target <= 2 s)  cycles run: {s['cycles']}")
        print(f"  fills {s['fills']}, round trips {s['round_trips']}, total_pnl {s['total_pnl']}")
        if args.sweep:
            sweeps = [("grid_num", [str(20 + i) for i in range(args.sweep)])]
            timings = {}
            for workers in sorted({1, os.cpu_count() or 1}):
                started = time.perf_counter()
                run_sweep(setup, data, sweeps, workers=workers)
                timings[workers] = time.perf_counter() - started
                print(f"sweep of {args.sweep} on {workers} worker(s): {timings[workers]:.2f} s")
            if len(timings) > 1:
                print(f"speed-up: {timings[1] / timings[max(timings)]:.2f}x")


if __name__ == "__main__":
    main()
