"""The sample data: seeded 1-minute OHLCV klines (a mean-reverting random walk). Pure.

`python -m gridkeeper.backtest.sample OUT.csv [--days N] [--seed S] [--start PRICE]` writes
the CSV shipped as `gridkeeper/backtest/data/sample_klines.csv` (3 days, seed 7, start 140):
columns `start,open,high,low,close,volume` (start as Backpack writes it, UTC). The same
arguments always give the same file (the RNG is `random.Random(seed)`; prices are rounded to
0.01).
"""

from __future__ import annotations

import argparse
import math
import random
from datetime import UTC, datetime
from pathlib import Path

START_MS = 1_714_521_600_000  # 2024-05-01 00:00:00 UTC


def klines(days: float, seed: int, start: float, minute_vol: float = 0.0012) -> list[list[str]]:
    """Rows of (start, open, high, low, close, volume): a walk pulled back towards `start`."""
    rng = random.Random(seed)
    rows = []
    price = start
    for i in range(int(days * 1440)):
        o = price
        drift = 0.002 * math.log(start / price)  # mean reversion keeps the walk near the range
        path = [o]
        for _ in range(4):  # four sub-steps make a high and a low inside the bar
            path.append(path[-1] * math.exp(drift / 4 + rng.gauss(0.0, minute_vol / 2)))
        c = path[-1]
        ts = datetime.fromtimestamp((START_MS + i * 60_000) / 1000, UTC)
        rows.append(
            [
                ts.strftime("%Y-%m-%d %H:%M:%S"),
                f"{o:.2f}",
                f"{max(path):.2f}",
                f"{min(path):.2f}",
                f"{c:.2f}",
                f"{rng.uniform(50, 500):.2f}",
            ]
        )
        price = float(f"{c:.2f}")
    return rows


def write(out: Path, days: float, seed: int, start: float) -> int:
    rows = klines(days, seed, start)
    with out.open("w") as handle:
        handle.write("start,open,high,low,close,volume\n")
        for row in rows:
            handle.write(",".join(row) + "\n")
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--days", type=float, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=float, default=140.0)
    args = parser.parse_args(argv)
    print(f"{write(args.out, args.days, args.seed, args.start)} klines written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
