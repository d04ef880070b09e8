"""A missing `order_quantity`, derived as the seed did: an equal share of what the grid's levels
can use, 5% kept back, rounded down to the step and never below the market's minimum.

Pure: balances, market and price in, a quantity out (the caller fetches, logs and persists).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

KEPT_BACK = Decimal("0.05")


def derive_quantity(
    *,
    quote_available: Decimal,
    base_available: Decimal,
    price: Decimal,
    grid_num: int,
    step_size: Decimal,
    min_quantity: Decimal,
    spot: bool,
) -> Decimal:
    """Base quantity per grid order. A perp grid sizes on the quote collateral; a spot grid on
    the value of both assets (its sell levels use the base it holds)."""
    if price <= 0:
        raise ValueError(f"cannot size a grid at price {price}")
    value = quote_available + (base_available * price if spot else Decimal(0))
    usable = value * (1 - KEPT_BACK)
    slots = max(grid_num - 1, 1)
    raw = usable / slots / price
    step = step_size if step_size > 0 else Decimal("0.00000001")
    qty = (raw / step).to_integral_value(rounding=ROUND_DOWN) * step
    return max(qty, min_quantity)
