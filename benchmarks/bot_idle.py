"""A grid bot at rest: RSS/PSS and CPU while the price ticks once a second and nothing fills.

Starts a paper exchange (manual price) and one perp grid bot the way the keeper does
(`python -m gridkeeper bot --config ...`), lets it settle, then moves the price once a second
inside one grid step (no fills) for --seconds and samples the bot with psutil. In the same run,
two baselines: a bare asyncio + httpx loop holding one connection and reading the ticker once a
second (the least any bot on this price does), and a plain idle interpreter.

Targets (issue 14): bot RSS <= 40 MiB, CPU <= 0.3 %.

With --position the price first steps down across the 99 level (one buy fills), then ticks
inside the 98..99 step: the bot holds a 1-lot long, as most perp grids do at rest, and values
it at the mark price every poll (streamed, or `/api/v1/markPrices` without the stream).

`--reconcile-interval S` sets the bot's `reconcile_interval_s` (what a full reconcile's seven
REST reads cost at rest).

Run: .venv/bin/python benchmarks/bot_idle.py [--seconds 60] [--warmup 15] [--position]
     [--reconcile-interval S]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from rig import PaperRig

MIB = 2**20
RSS_TARGET_MIB = 40.0
CPU_TARGET_PCT = 0.3

BARE_LOOP = """
import asyncio, sys, httpx
async def main():
    async with httpx.AsyncClient(base_url=sys.argv[1]) as http:
        while True:
            await http.get("/api/v1/ticker", params={"symbol": "SOL_USDC_PERP"})
            await asyncio.sleep(1.0)
asyncio.run(main())
"""


@dataclass
class Sample:
    name: str
    rss_mib: float
    pss_mib: float | None
    cpu_pct: float
    threads: int


def memory(proc: psutil.Process) -> tuple[float, float | None]:
    try:
        full = proc.memory_full_info()
        return full.rss / MIB, getattr(full, "pss", None) and full.pss / MIB
    except (psutil.AccessDenied, AttributeError):
        return proc.memory_info().rss / MIB, None


def measure(
    procs: dict[str, psutil.Process], seconds: float, tick: object | None = None
) -> list[Sample]:
    """CPU over the window (user+system), memory at its end; `tick` runs once a second."""
    start_cpu = {n: sum(p.cpu_times()[:2]) for n, p in procs.items()}
    started = time.monotonic()
    next_tick = started
    while (now := time.monotonic()) - started < seconds:
        if tick is not None and now >= next_tick:
            tick()  # type: ignore[operator]
            next_tick += 1.0
        time.sleep(max(0.0, min(next_tick, started + seconds) - time.monotonic()))
    wall = time.monotonic() - started
    out = []
    for name, proc in procs.items():
        cpu = sum(proc.cpu_times()[:2]) - start_cpu[name]
        rss, pss = memory(proc)
        out.append(Sample(name, rss, pss, 100.0 * cpu / wall, proc.num_threads()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument(
        "--position", action="store_true", help="hold a position (one fill) while at rest"
    )
    parser.add_argument(
        "--reconcile-interval",
        type=float,
        default=None,
        help="the bot's strategy_config.reconcile_interval_s (default: the config's default)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rig = PaperRig(Path(tmp))
        extra: list[subprocess.Popen[bytes]] = []
        try:
            rig.start_exchange()
            strategy = {}
            if args.reconcile_interval is not None:
                strategy["reconcile_interval_s"] = args.reconcile_interval
            bot, _ = rig.start_bot("idle", **strategy)
            extra.append(subprocess.Popen([sys.executable, "-c", BARE_LOOP, rig.url]))
            extra.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1e6)"]))
            rng = random.Random(7)
            # Inside one grid step around 100 (levels 99 and 101 rest): nothing fills. With
            # --position, inside 98..99 after the buy at 99 filled (levels 98 and 100 rest).
            centre = 98.5 if args.position else 100.0

            def tick() -> None:
                rig.set_price(f"{centre + rng.uniform(-0.4, 0.4):.2f}")

            measure({}, args.warmup, tick)  # start-up reconcile, first full cycles
            procs = {
                "grid bot": psutil.Process(bot.pid),
                "bare httpx loop": psutil.Process(extra[0].pid),
                "idle interpreter": psutil.Process(extra[1].pid),
            }
            samples = measure(procs, args.seconds, tick)
        finally:
            for proc in extra:
                proc.terminate()
                proc.wait()
            rig.close()
    held = ", holding a 1-lot long" if args.position else ""
    print(f"grid bot at rest{held}, {args.seconds:g} s, price ticking 1/s, no fills")
    print(f"{'process':<18} {'RSS MiB':>8} {'PSS MiB':>8} {'CPU %':>7} {'threads':>7}")
    for s in samples:
        pss = f"{s.pss_mib:8.1f}" if s.pss_mib is not None else f"{'-':>8}"
        print(f"{s.name:<18} {s.rss_mib:8.1f} {pss} {s.cpu_pct:7.2f} {s.threads:7d}")
    bot_s, bare, idle = samples
    print(
        f"ratios: RSS {bot_s.rss_mib / bare.rss_mib:.2f}x the bare httpx loop, "
        f"{bot_s.rss_mib / idle.rss_mib:.2f}x an idle interpreter; CPU "
        f"{bot_s.cpu_pct / max(bare.cpu_pct, 0.01):.1f}x the bare httpx loop"
    )
    rss_ok = bot_s.rss_mib <= RSS_TARGET_MIB
    cpu_ok = bot_s.cpu_pct <= CPU_TARGET_PCT
    print(
        f"target RSS <= {RSS_TARGET_MIB:g} MiB: {bot_s.rss_mib:.1f} MiB "
        f"{'met' if rss_ok else 'missed'}; target CPU <= {CPU_TARGET_PCT:g} %: "
        f"{bot_s.cpu_pct:.2f} % {'met' if cpu_ok else 'missed'}"
    )


if __name__ == "__main__":
    main()
