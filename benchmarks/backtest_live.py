"""The live baseline of benchmarks/backtest.py: the same prices through the real bot.

A paper exchange (kind profile, manual prices) and a real bot (the benchmark's grid, polling as
fast as it will: `poll_interval_s` 0.01) run as processes on 127.0.0.1. Each price of the slice
is set with `POST /_paper/price`, then the driver waits until the bot has completed two loops
after it (the first may have started before the move; the second saw it and acted): the fastest
replay in which the live bot still acts on every price, as the backtester does. The time per
bar is extrapolated to the whole run.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rig import PaperRig, wait


def _wait(check: Callable[[], bool], what: str) -> None:
    # A fine poll: its lag is part of every bar this benchmark times.
    wait(check, 60.0, what, interval=0.002)


def replay_live(
    strategy_config: dict[str, Any], prices: list[Decimal]
) -> tuple[float, int, dict[str, Any]]:
    """(seconds for the prices after the first, fills, the bot's final /api/grid)."""
    with tempfile.TemporaryDirectory() as tmp:
        # The kind profile and the paper exchange's default fee (maker_fee_bps None).
        rig = PaperRig(
            Path(tmp),
            price=str(prices[0]),
            profile="kind",
            balance="1000000000",
            maker_fee_bps=None,
        )
        try:
            rig.start_exchange()
            fast = {**strategy_config, "poll_interval_s": 0.01}
            _, bot_port = rig.start_bot("bench", **fast)
            return _drive(rig, f"http://127.0.0.1:{bot_port}", prices)
        finally:
            rig.close()


def _drive(rig: PaperRig, bot: str, prices: list[Decimal]) -> tuple[float, int, dict[str, Any]]:
    bot_auth = rig.bot_auth("bench")
    with httpx.Client(timeout=10) as http:

        def detailed() -> dict[str, Any]:
            result: dict[str, Any] = http.get(f"{bot}/health/detailed", headers=bot_auth).json()
            return result

        def grid() -> dict[str, Any]:
            result: dict[str, Any] = http.get(f"{bot}/api/grid", headers=bot_auth).json()
            return result

        _wait(lambda: len(grid()["open_orders"]) > 0, "the bot's grid")

        def two_loops_after(moved_at: float) -> None:
            seen: set[float] = set()

            def check() -> bool:
                at = detailed().get("last_loop_at")
                if at is not None and at > moved_at:
                    seen.add(at)
                return len(seen) >= 2

            _wait(check, "two bot loops")

        two_loops_after(time.time())
        started = time.perf_counter()
        for price in prices[1:]:
            rig.set_price(str(price))
            two_loops_after(time.time())
        took = time.perf_counter() - started
        return took, int(detailed()["fills"]), grid()
