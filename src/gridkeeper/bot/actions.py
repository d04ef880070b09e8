"""The strategy's vocabulary: the market it trades, the actions it asks for, its events. Pure.

Kept apart from the logic so the planner, the outcome bookkeeping, the executor and the views
can all name these without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gridkeeper.bot.grid import GridLayout, build_layout
from gridkeeper.bot.params import StrategyConfig, required_quantity
from gridkeeper.bot.state import TrackedOrder


@dataclass(frozen=True)
class MarketSpec:
    """What the strategy needs to know about the market it trades."""

    symbol: str
    base: str
    quote: str
    spot: bool
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    maker_fee: Decimal
    band_min: Decimal | None = None  # limit prices must be >= last * band_min (None: no band)
    band_max: Decimal | None = None  # ... and <= last * band_max


@dataclass(frozen=True)
class Place:
    order: TrackedOrder
    post_only: bool


@dataclass(frozen=True)
class Cancel:
    client_id: int
    order_id: str | None


Action = Place | Cancel


@dataclass(frozen=True)
class BotEvent:
    """Something worth a structured log line (order, fill, profit, boundary action...)."""

    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


def build_grid(
    config: StrategyConfig, market: MarketSpec, lower: Decimal, upper: Decimal, num: int
) -> GridLayout:
    return build_layout(
        lower=lower,
        upper=upper,
        num=num,
        mode=config.grid_mode,
        quantity=required_quantity(config),
        tick_size=market.tick_size,
        step_size=market.step_size,
        min_quantity=market.min_quantity,
        maker_fee=market.maker_fee,
    )
