"""Model of an instance file's `strategy_config` section: the grid the bot trades.

Owned by the bot: it defines what each key means. The symbol lives in `metadata.symbol` and the
market type (spot or perp) comes from the exchange's market; this section only shapes the grid.
Prices and quantities are Decimals so a config value is never a binary float approximation.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from gridkeeper.config.base import StrictModel

GridMode = Literal["arithmetic", "geometric"]
GridType = Literal["neutral", "long", "short"]
BoundaryAction = Literal["pause", "stop_only", "emergency_close", "adjust_range"]

MAX_GRID_NUM = 1000


class GridStrategyConfig(StrictModel):
    """A grid: price points between two bounds, one order quantity, and the risk limits."""

    grid_upper_price: Decimal = Field(gt=0, description="Highest price point of the grid (quote).")
    grid_lower_price: Decimal = Field(
        gt=0, description="Lowest price point of the grid (quote); must be below grid_upper_price."
    )
    grid_num: int = Field(
        10,
        ge=2,
        le=MAX_GRID_NUM,
        description="Number of price points, both bounds included (grid_num - 1 order slots).",
    )
    grid_mode: GridMode = Field(
        "arithmetic",
        description="arithmetic: equal price steps; geometric: equal percentage steps.",
    )
    grid_type: GridType = Field(
        "neutral",
        description=(
            "Perp only: neutral opens longs below and shorts above the price; long only buys to "
            "open; short only sells to open. A spot grid is neutral or long (same behaviour)."
        ),
    )
    order_quantity: Decimal = Field(
        gt=0, description="Base quantity of every grid order, rounded down to the market's step."
    )
    max_position: Decimal | None = Field(
        None,
        gt=0,
        description=(
            "Largest net position (base) the grid may reach, counting open opening orders; "
            "checked before an order is sent. None: no limit beyond the grid itself."
        ),
    )
    stop_loss: Decimal | None = Field(
        None,
        gt=0,
        description="Loss (quote, on total PnL) that triggers boundary_action; None: off.",
    )
    take_profit: Decimal | None = Field(
        None,
        gt=0,
        description="Profit (quote, on total PnL) that triggers boundary_action; None: off.",
    )
    boundary_action: BoundaryAction = Field(
        "pause",
        description=(
            "What leaving the range (or hitting stop_loss/take_profit) does: pause (cancel, "
            "resume when back in range), stop_only (cancel, keep position, stay stopped), "
            "emergency_close (cancel and close the position reduce-only, stay stopped), "
            "adjust_range (re-centre the grid on the price; for stop_loss/take_profit it acts "
            "as stop_only)."
        ),
    )
    boundary_tolerance: Decimal = Field(
        Decimal("0.01"),
        ge=0,
        le=1,
        description="Fraction beyond a bound the price may go before boundary_action fires.",
    )
    post_only: bool = Field(True, description="Send grid orders as post-only (maker only).")
    poll_interval_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Seconds between price and fill polls (websocket wakes early).",
    )
    reconcile_interval_s: float = Field(
        10.0, gt=0, le=600, description="Seconds between full reconciliations with open orders."
    )

    @field_validator("grid_lower_price")
    @classmethod
    def _below_upper(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        upper = info.data.get("grid_upper_price")
        if upper is not None and value >= upper:
            raise ValueError(f"grid_lower_price ({value}) must be below grid_upper_price ({upper})")
        return value
