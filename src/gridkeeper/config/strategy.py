"""Model of an instance file's `strategy_config` section: the grid the bot trades.

Owned by the bot: it defines what each key means. The symbol lives in `metadata.symbol` and the
market type (spot or perp) comes from the exchange's market; this section only shapes the grid.
Prices and quantities are Decimals so a config value is never a binary float approximation.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from gridkeeper.config.base import StrictModel

GridMode = Literal["arithmetic", "geometric"]
GridType = Literal["neutral", "long", "short"]
BoundaryAction = Literal["pause", "stop_only", "emergency_close", "adjust_range"]
LimitAction = Literal["close", "stop_only"]
ThroughMarketClose = Literal["maker", "taker"]

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
    order_quantity: Decimal | None = Field(
        None,
        gt=0,
        description=(
            "Base quantity of every grid order, rounded down to the market's step. Unset: "
            "derived at the first start from the account's balances (an equal share of what the "
            "grid's levels can use, 5% kept back, never below the market minimum) and kept "
            "with the grid."
        ),
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
        description="Loss (quote, on total PnL) that triggers stop_loss_action; None: off. The "
        "seed's negative form (-600) means the same loss (600).",
    )
    take_profit: Decimal | None = Field(
        None,
        gt=0,
        description="Profit (quote, on total PnL) that triggers take_profit_action; None: off.",
    )
    stop_loss_action: LimitAction = Field(
        "close",
        description=(
            "What reaching stop_loss does: close (cancel the grid's orders, close its position "
            "with a reduce-only market order, then stay stopped) or stop_only (cancel, keep the "
            "position, stay stopped). Independent of boundary_action."
        ),
    )
    take_profit_action: LimitAction = Field(
        "close",
        description=(
            "What reaching take_profit does: close (lock the profit in: cancel, close the "
            "position reduce-only at market, stay stopped) or stop_only (cancel, keep the "
            "position, stay stopped)."
        ),
    )
    through_market_close: ThroughMarketClose = Field(
        "maker",
        description=(
            "A closing leg whose level the market has gone through (a gap, a restart): maker "
            "rests it post-only at the best price on its side of the book; taker sends a limit "
            "up to close_max_slippage beyond the book (what does not fill rests there)."
        ),
    )
    close_max_slippage: Decimal = Field(
        Decimal("0.005"),
        gt=0,
        le=Decimal("0.2"),
        description="through_market_close taker: furthest a close may go past the book (fraction).",
    )
    boundary_action: BoundaryAction = Field(
        "pause",
        description=(
            "What leaving the range does: pause (cancel, resume when back in range), stop_only "
            "(cancel, keep position, stay stopped), emergency_close (cancel and close the "
            "position reduce-only, stay stopped), adjust_range (re-centre the grid on the "
            "price; the position keeps its closing orders). stop_loss and take_profit have "
            "their own actions."
        ),
    )
    enable_boundary_check: bool = Field(
        True,
        description="false: leaving the range never fires boundary_action (the seed's "
        "--disable-boundary-check); levels outside the range simply have no orders.",
    )
    duration_s: float | None = Field(
        None,
        gt=0,
        description="Seconds after which the bot stops cleanly (as on SIGTERM, exit 0); the "
        "seed's duration. None: runs until stopped.",
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
        le=3600,
        description="Seconds between price and fill polls (websocket wakes early); the seed's "
        "interval.",
    )
    # 30 s: while the order stream is up it delivers fills at once and a reconnect triggers a
    # reconcile, so the periodic one only catches what a live stream lost (docs/footprint.md
    # weighs the delay against the CPU a bot spends at rest; issue 14).
    reconcile_interval_s: float = Field(
        30.0, gt=0, le=600, description="Seconds between full reconciliations with open orders."
    )

    @field_validator("stop_loss", mode="before")
    @classmethod
    def _seed_negative_loss(cls, value: Any) -> Any:
        # The seed wrote a loss limit as a negative PnL (-600); it is the same 600 loss.
        if isinstance(value, int | float | str | Decimal) and not isinstance(value, bool):
            try:
                number = Decimal(str(value))
            except ArithmeticError:
                return value
            if number.is_finite() and number < 0:
                return -number
        return value

    @field_validator("grid_lower_price")
    @classmethod
    def _below_upper(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        upper = info.data.get("grid_upper_price")
        if upper is not None and value >= upper:
            raise ValueError(f"grid_lower_price ({value}) must be below grid_upper_price ({upper})")
        return value


def describe_actions(config: GridStrategyConfig, *, spot: bool | None = None) -> list[str]:
    """In words, what each risk limit and the boundary action will do (for `config check`)."""
    closing = {
        None: "a reduce-only market order (spot: a market sell of what the grid bought)",
        True: "a market sell of what the grid bought",
        False: "a reduce-only market order",
    }[spot]
    limit_text = {
        "close": f"cancel the grid's orders, close its position with {closing}, then stop",
        "stop_only": "cancel the grid's orders, keep the position (no exit orders), then stop",
    }
    tol = config.boundary_tolerance * 100
    boundary_text = {
        "pause": "cancel the grid's orders and pause; trading resumes when the price is back "
        "inside the range",
        "stop_only": "cancel the grid's orders, keep the position (no exit orders), then stop",
        "emergency_close": f"cancel the grid's orders, close its position with {closing}, "
        "then stop",
        "adjust_range": "re-centre a range of the same width on the price; the position keeps "
        "its closing orders",
    }
    lines = []
    if config.stop_loss is not None:
        lines.append(
            f"stop_loss: when total PnL <= -{config.stop_loss}: "
            f"{limit_text[config.stop_loss_action]}"
        )
    else:
        lines.append("stop_loss: off")
    if config.take_profit is not None:
        lines.append(
            f"take_profit: when total PnL >= {config.take_profit}: "
            f"{limit_text[config.take_profit_action]}"
        )
    else:
        lines.append("take_profit: off")
    if config.enable_boundary_check:
        lines.append(
            f"boundary_action: when the price leaves {config.grid_lower_price}-"
            f"{config.grid_upper_price} by more than {tol}%: "
            f"{boundary_text[config.boundary_action]}"
        )
    else:
        lines.append("boundary_action: off (enable_boundary_check is false)")
    if config.order_quantity is None:
        lines.append(
            "order_quantity: not set; derived at the first start from the account's balances "
            "(an equal share of what the levels can use, 5% kept back, never below the "
            "market minimum) and kept with the grid"
        )
    if config.duration_s is not None:
        lines.append(f"duration: the bot stops cleanly after {config.duration_s:g} s")
    if config.through_market_close == "maker":
        lines.append(
            "through_market_close: a closing leg the market went through rests post-only at "
            "the best price on its side of the book"
        )
    else:
        lines.append(
            "through_market_close: a closing leg the market went through is sent as a limit up "
            f"to {config.close_max_slippage * 100}% beyond the book (taker)"
        )
    return lines


def required_quantity(config: GridStrategyConfig) -> Decimal:
    """The order quantity of a config the bot runs (the bot derives a missing one first)."""
    if config.order_quantity is None:
        raise ValueError("strategy_config.order_quantity is not set and was not derived")
    return config.order_quantity
