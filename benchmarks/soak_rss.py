"""Memory does not grow: a grid bot under the keeper, with the price moving and fills happening,
sampled for --minutes; prints each process's RSS slope (least squares, MiB/hour). Not a test.

A paper exchange (manual price) and a keeper (`gridkeeper start -d`, monitor off) that runs one
perp grid bot on it. The price walks across the grid's levels every 0.5 s so orders fill and are
replaced all the time. The first --warmup seconds (start-up, first imports) are left out of the
fit. The report gives, per process, the RSS at every 5-minute mark (where the growth is: the
first minutes of trading fill the allocator's pools, SQLite's page cache and the connections'
buffers once) and two least-squares slopes: over the whole run after the warm-up, and over its
second half (the working set once filled). A settled slope near 0 is the target: a leak shows
as a slope that does not fall off, a working set filling as one that does.

Run: .venv/bin/python benchmarks/soak_rss.py [--minutes 30] [--quick]   (--quick: 2 minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from rig import PaperRig, free_port, wait

MIB = 2**20
SAMPLE_S = 5.0
SETTLED_OK_MIB_H = 0.5  # second-half slope beyond this: call it growth (12 MiB/day)
WINDOW_S = 300.0


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB), in MiB per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mx) * (v - my) for t, v in points)
    return cov / var * 3600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="2 minutes")
    parser.add_argument("--warmup", type=float, default=30.0)
    args = parser.parse_args()
    minutes = 2.0 if args.quick else args.minutes
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rig = PaperRig(root)
        env = {**os.environ, "GRIDKEEPER_HOME": str(rig.home)}
        env.pop("GRIDKEEPER_SETTINGS", None)
        gk = [sys.executable, "-m", "gridkeeper"]
        keeper_pid = 0
        try:
            rig.start_exchange()
            web_port = free_port()
            rig.bot_config("soak", web_port, grid_lower_price=90, grid_upper_price=110)
            (root / "config" / "daemon_config.json").write_text(
                json.dumps({"monitor": {"enabled": False}})
            )
            done = subprocess.run(
                [*gk, "start", "-d"], cwd=root, env=env, capture_output=True, text=True, timeout=60
            )
            if done.returncode != 0:
                raise RuntimeError(f"gridkeeper start -d exited {done.returncode}: {done.stderr}")
            keeper_pid = int((rig.home / "keeper.pid").read_text().split()[0])
            wait(
                lambda: rig._http.get(f"http://127.0.0.1:{web_port}/health").status_code == 200,
                timeout=60,
                what="the bot under the keeper",
            )
            keeper = psutil.Process(keeper_pid)
            bot = next(p for p in keeper.children(recursive=True) if "bot" in p.cmdline())
            rng = random.Random(11)
            price = 100.0
            samples: dict[str, list[tuple[float, float]]] = {"grid bot": [], "keeper": []}
            started = time.monotonic()
            next_sample = started + args.warmup
            end = started + args.warmup + minutes * 60
            while (now := time.monotonic()) < end:
                price = min(108.0, max(92.0, price + rng.gauss(0, 0.6)))
                rig.set_price(f"{price:.2f}")
                if now >= next_sample:
                    for name, proc in (("grid bot", bot), ("keeper", keeper)):
                        samples[name].append((now - started, proc.memory_info().rss / MIB))
                    next_sample += SAMPLE_S
                time.sleep(0.5)
            db = sqlite3.connect(f"file:{rig.home / 'bots' / 'soak.db'}?mode=ro", uri=True)
            fills = int(db.execute("SELECT COUNT(*) FROM fills").fetchone()[0])
            db.close()
        finally:
            if keeper_pid:
                subprocess.run(
                    [*gk, "shutdown"], cwd=root, env=env, capture_output=True, timeout=60
                )
            rig.close()
    print(
        f"soak: {minutes:g} min after {args.warmup:g} s warm-up, price moving every 0.5 s, "
        f"{fills} fills applied by the bot"
    )
    for name, points in samples.items():
        rss = [v for _, v in points]
        whole = slope_per_hour(points)
        half = points[0][0] + (points[-1][0] - points[0][0]) / 2
        settled = slope_per_hour([p for p in points if p[0] >= half])
        verdict = "flat" if abs(settled) <= SETTLED_OK_MIB_H else "GROWS"
        marks = " ".join(f"{v:.1f}" for _, v in points[:: int(WINDOW_S / SAMPLE_S)])
        print(
            f"{name:<9} RSS first {rss[0]:.1f} MiB, last {rss[-1]:.1f} MiB, max {max(rss):.1f} "
            f"MiB; every 5 min: {marks}"
        )
        print(
            f"{'':<9} slope {whole:+.2f} MiB/hour over the run, {settled:+.2f} MiB/hour over "
            f"its second half ({verdict}; target ~0, |settled slope| <= {SETTLED_OK_MIB_H:g})"
        )


if __name__ == "__main__":
    main()
