"""Live parity: one price path through the backtester and through the real bot on the paper
exchange (kind profile, manual prices) gives the same fills, in order, and the same PnL to the
last digit — spot and every perp grid type, with a stop-loss and boundary actions."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest

from gridkeeper.backtest.data import PricePath
from gridkeeper.backtest.setup import make_setup
from gridkeeper.backtest.sim import run_backtest
from tests.integration.backtest.conftest import KIND_CONFIG
from tests.integration.bot.conftest import Bot, Paper, wait_for


def _snapshot(paper: Paper, bot: Bot, symbol: str, price: str) -> tuple[Any, ...] | None:
    """The bot's settled state at `price`, or None while it is still catching up."""
    grid = bot.get("/api/grid")
    if grid["last_price"] is None or D(grid["last_price"]) != D(price):
        return None
    if any(o["status"] != "live" for o in grid["open_orders"]):
        return None
    opened, _history, fills, _positions = paper.query(symbol)
    detailed = bot.get("/health/detailed")
    if detailed["fills"] != len(fills):
        return None
    if sorted(o.client_id or 0 for o in opened) != sorted(
        o["client_id"] for o in grid["open_orders"]
    ):
        return None
    return (
        grid["status"],
        grid["position"],
        grid["profit"],
        len(fills),
        sorted(o["client_id"] for o in grid["open_orders"]),
    )


def _settle(paper: Paper, bot: Bot, symbol: str, price: str) -> None:
    """Wait until the bot has acted on `price` and two more loops changed nothing."""
    for _ in range(20):
        # Generous: on a loaded 2-core machine a bot cycle under the views' lock can take seconds.
        first = wait_for(
            lambda: _snapshot(paper, bot, symbol, price), timeout=60, what=f"settled at {price}"
        )
        for _ in range(2):
            loop = bot.get("/health/detailed")["last_loop_at"]
            wait_for(
                lambda seen=loop: bot.get("/health/detailed")["last_loop_at"] > seen, what="a loop"
            )
        settled = wait_for(lambda: _snapshot(paper, bot, symbol, price), timeout=60, what="settled")
        if settled == first:
            return
    raise AssertionError(f"the bot never settled at {price}")


CASES = [
    pytest.param(
        "SOL_USDC",
        "grid",
        {"grid_type": "neutral", "boundary_action": "pause"},
        ["100", "97.5", "95.5", "99", "103", "106", "101", "94", "85", "100", "98.5", "104.5"],
        "running",
        id="spot-neutral-boundary-pause",
    ),
    pytest.param(
        "SOL_USDC_PERP",
        "perp_grid",
        {"grid_type": "neutral", "stop_loss": "9"},
        ["100", "103.5", "101", "97.5", "95.5", "93.5", "91.5", "90.5"],
        "stopped",
        id="perp-neutral-stop-loss",
    ),
    pytest.param(
        "SOL_USDC_PERP",
        "perp_grid",
        {"grid_type": "long", "boundary_action": "emergency_close"},
        ["100", "97.5", "95.5", "99", "103.5", "101", "105", "112"],
        "stopped",
        id="perp-long-boundary-emergency-close",
    ),
    pytest.param(
        "SOL_USDC_PERP",
        "perp_grid",
        {"grid_type": "short", "boundary_action": "adjust_range"},
        ["100", "102.5", "104.5", "101", "106.5", "113", "115.5", "112", "109"],
        "running",
        id="perp-short-boundary-adjust-range",
    ),
]


@pytest.mark.parametrize(("symbol", "strategy", "strat", "path", "final"), CASES)
def test_backtest_matches_the_live_bot(
    kind_paper: Paper,
    kind_bot: Callable[..., tuple[Bot, dict[str, Any]]],
    symbol: str,
    strategy: str,
    strat: dict[str, Any],
    path: list[str],
    final: str,
) -> None:
    bot, config = kind_bot("parity", symbol, strategy, **strat)
    assert path[0] == "100"  # the bot lays its grid out at the exchange's initial price
    bot.start()
    _settle(kind_paper, bot, symbol, path[0])
    for price in path[1:]:
        kind_paper.set_price(symbol, price)
        _settle(kind_paper, bot, symbol, price)
    live = bot.get("/api/grid")
    _opened, _history, fills, _positions = kind_paper.query(symbol)
    live_fills = [
        (f.side, f.price, f.quantity) for f in sorted(fills, key=lambda f: int(f.trade_id))
    ]

    setup = make_setup(config, KIND_CONFIG)
    prices = [D(p) for p in path]
    result = run_backtest(
        setup, PricePath([i * 1000 for i in range(len(prices))], prices, "ticks", len(prices))
    )
    sim_fills = [(f.side, f.price, f.quantity) for f in result.fills]

    assert len(live_fills) >= 4, live_fills  # the path really trades
    assert sim_fills == live_fills, (sim_fills, live_fills)
    s, profit = result.summary, live["profit"]
    assert D(s["total_pnl"]) == D(profit["total_pnl"])
    assert D(s["realized"]) == D(profit["realized_grid_profit"])
    assert D(s["unrealized"]) == D(profit["unrealized_pnl"])
    assert D(s["fees"]) == D(profit["fees"])
    assert D(s["funding"]) == D(profit["funding"])
    assert D(s["position"]) == D(live["position"])
    assert s["status"] == live["status"] == final
    assert (s["reason"] or "").split(":")[0] == (live["reason"] or "").split(":")[0]
    if final == "stopped":
        assert any(e["kind"] == "boundary_action" for e in result.events)
    if "adjust_range" in strat.values():
        assert (live["grid_lower_price"], live["grid_upper_price"]) != ("90", "110")
        assert D(live["grid_lower_price"]) == result.ranges[-1][1]
        assert D(live["grid_upper_price"]) == result.ranges[-1][2]
