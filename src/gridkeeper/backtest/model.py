"""What a backtest takes and gives: its setup, its fills, its result (no logic here)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gridkeeper.config.paper_exchange import PaperExchangeConfig
from gridkeeper.config.strategy import GridStrategyConfig

ZERO = Decimal(0)
ACCOUNT = "backtest"
MAX_ROUNDS = 100  # cycles per price step before the step is declared unsettled (a bug)
CHART_POINTS = 2000
DAY_MS = 86_400_000


class BacktestError(Exception):
    """The backtest cannot run (bad grid, no price, insufficient funds...)."""


@dataclass(frozen=True)
class SimSetup:
    """One backtest: the grid, its market and account (a paper exchange config), its symbol."""

    name: str
    symbol: str
    strategy: GridStrategyConfig
    exchange: PaperExchangeConfig
    spot: bool
    capital: Decimal | None = None  # None: what the grid needs at the start (see docs)


@dataclass
class SimFill:
    time_ms: int
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_symbol: str
    opening: bool | None  # None: a position close (stop-loss, emergency_close)


@dataclass
class BacktestResult:
    summary: dict[str, Any]
    fills: list[SimFill]
    chart: list[tuple[int, Decimal, Decimal]]  # (time, price, total PnL), down-sampled
    levels: list[Decimal]  # the grid's price points at the start
    ranges: list[tuple[int, Decimal, Decimal]]  # (time, lower, upper) whenever the range moved
    daily: list[dict[str, Any]]
    events: list[dict[str, Any]]  # boundary actions, stops, range changes

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "daily": self.daily,
            "events": self.events,
            "fills": [
                {
                    "time": f.time_ms,
                    "side": f.side,
                    "price": _s(f.price),
                    "quantity": _s(f.quantity),
                    "fee": _s(f.fee),
                    "fee_symbol": f.fee_symbol,
                    "opening": f.opening,
                }
                for f in self.fills
            ],
        }


def _s(value: Decimal) -> str:
    return format(value, "f")


NOTABLE = {
    "boundary_action",
    "stopped",
    "paused",
    "resumed",
    "position_closed",
    "grid_adjusted",
    "grid_rebuilt",
    "invariant_broken",
    "funding",
}
