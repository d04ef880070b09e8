"""The backtester's shortcuts change nothing: skipping quiet prices (the quiet band and
`shortcuts.quiet`) and the confirming cycle after a settle give the same fills, PnL, per-day
figures, events, chart and ranges as playing every price through the full bot loop."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from gridkeeper.backtest.data import load_prices
from gridkeeper.backtest.model import BacktestResult
from gridkeeper.backtest.sample import write
from gridkeeper.backtest.setup import default_exchange, make_setup
from gridkeeper.backtest.sim import run_backtest

PERP, SPOT = "SOL_USDC_PERP", "SOL_USDC"
UNKIND: dict[str, Any] = {
    "unkind": {
        "liquidity": {"enabled": True, "half_spread_bps": "1", "trade_volume_per_level": "0.5"},
        "self_trade_prevention": True,
        "reduce_only_modify": True,
    },
    "perps": {
        "mark_basis_bps": "2",
        "mark_smoothing": "0.5",
        "funding": True,
        "funding_rate_model": "premium",
        "funding_interval_s": 3600,
    },
}


def _grid(symbol: str, **strategy: Any) -> dict[str, Any]:
    kind = "grid" if symbol == SPOT else "perp_grid"
    config = {"grid_lower_price": 134, "grid_upper_price": 146, "order_quantity": 1, **strategy}
    return {
        "metadata": {"instance_id": "t", "symbol": symbol, "strategy": kind},
        "strategy_config": config,
    }


CASES = [
    pytest.param(
        _grid(SPOT, grid_num=24, stop_loss=200, boundary_action="pause"), {}, None, id="spot"
    ),
    pytest.param(
        _grid(SPOT, grid_lower_price=138, grid_upper_price=143, grid_num=20, take_profit=30),
        {},
        "take_profit",
        id="spot-take-profit",
    ),
    pytest.param(
        _grid(PERP, grid_lower_price=136, grid_upper_price=144, grid_num=30, stop_loss=15),
        {},
        "stop_loss",
        id="perp-neutral-stop-loss",
    ),
    pytest.param(
        _grid(
            PERP,
            grid_type="short",
            grid_lower_price=136,
            grid_upper_price=141,
            grid_num=15,
            boundary_action="adjust_range",
        ),
        {},
        "grid_adjusted",
        id="perp-short-adjust-range",
    ),
    pytest.param(
        _grid(PERP, grid_type="long", grid_num=20, boundary_action="pause"),
        UNKIND,
        "funding",
        id="perp-long-unkind-funding",
    ),
]


def _facts(result: BacktestResult) -> dict[str, Any]:
    facts = result.to_json()
    facts["summary"] = {k: v for k, v in facts["summary"].items() if k != "cycles"}
    return {**facts, "chart": result.chart, "ranges": result.ranges, "levels": result.levels}


@pytest.mark.parametrize(("grid", "exchange", "happens"), CASES)
def test_shortcuts_change_nothing(
    tmp_path: Path, grid: dict[str, Any], exchange: dict[str, Any], happens: str | None
) -> None:
    data = tmp_path / "bars.csv"
    write(data, 1, 3, 140.0)  # one day of seeded 1-minute bars: 5,760 prices
    path = load_prices(data)
    symbol = grid["metadata"]["symbol"]
    ex = {**default_exchange(symbol, symbol == SPOT, path.prices[0]), **exchange}
    setup = make_setup(grid, ex, first_price=path.prices[0])
    fast = run_backtest(setup, path)
    full = run_backtest(setup, path, shortcuts=False)
    assert fast.summary["fills"] >= 4, fast.summary  # the path really trades
    if happens is not None:  # ...and reaches what the case is about
        assert happens in (fast.summary["reason"] or "") or any(
            e["kind"] == happens for e in fast.events
        ), (fast.summary, fast.events[:5])
    assert _facts(fast) == _facts(full)
    # The shortcuts did skip: the full run plays a cycle per price at least.
    assert full.summary["cycles"] >= len(path.prices) > 2 * fast.summary["cycles"]
    assert D(fast.summary["total_pnl"]) == D(full.summary["total_pnl"])
