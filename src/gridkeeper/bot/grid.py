"""Grid maths: price points, rounding to the market's tick and step, and the fee check. Pure.

A grid of `num` price points has `num - 1` slots; slot g trades between point g (its buy) and
point g + 1 (its sell). Buys are rounded down to the tick and sells up, so rounding never moves an
order to a worse price than the grid promised; points that collapse into one tick are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal

from gridkeeper.errors import GridkeeperError


class GridError(GridkeeperError):
    """The grid cannot be traded as configured. `field` names the config key to change."""

    exit_code = 78

    def __init__(self, message: str, *, field: str) -> None:
        self.field = field
        super().__init__(message)


def floor_to(value: Decimal, unit: Decimal) -> Decimal:
    """The largest multiple of `unit` not above `value`."""
    return (value / unit).to_integral_value(rounding=ROUND_FLOOR) * unit


def ceil_to(value: Decimal, unit: Decimal) -> Decimal:
    """The smallest multiple of `unit` not below `value`."""
    return (value / unit).to_integral_value(rounding=ROUND_CEILING) * unit


def raw_points(
    lower: Decimal, upper: Decimal, num: int, mode: Literal["arithmetic", "geometric"]
) -> list[Decimal]:
    """`num` price points from `lower` to `upper`, both included, before any rounding."""
    if num < 2:
        raise GridError(f"grid_num ({num}) must be at least 2", field="grid_num")
    if lower <= 0 or lower >= upper:
        raise GridError(
            f"grid_lower_price ({lower}) must be positive and below grid_upper_price ({upper})",
            field="grid_lower_price",
        )
    if mode == "arithmetic":
        step = (upper - lower) / (num - 1)
        points = [lower + step * i for i in range(num)]
    else:
        ratio = (upper / lower) ** (Decimal(1) / (num - 1))
        points = [lower * ratio**i for i in range(num)]
    points[-1] = upper
    return points


@dataclass(frozen=True)
class Slot:
    """One slot of the grid: buy at `buy`, sell at `sell` (sell > buy, both on the tick)."""

    index: int
    buy: Decimal
    sell: Decimal


@dataclass(frozen=True)
class GridLayout:
    """The tradable grid after rounding: its slots and the quantity every order carries."""

    lower: Decimal
    upper: Decimal
    num: int
    slots: tuple[Slot, ...]
    quantity: Decimal

    def slot_at(self, buy: Decimal, sell: Decimal) -> Slot | None:
        for slot in self.slots:
            if slot.buy == buy and slot.sell == sell:
                return slot
        return None


def build_layout(
    *,
    lower: Decimal,
    upper: Decimal,
    num: int,
    mode: Literal["arithmetic", "geometric"],
    quantity: Decimal,
    tick_size: Decimal,
    step_size: Decimal,
    min_quantity: Decimal,
    maker_fee: Decimal,
) -> GridLayout:
    """Round the grid to the market and check it can make money; raise GridError otherwise."""
    points = raw_points(lower, upper, num, mode)
    kept: list[tuple[Decimal, Decimal]] = []  # (bid, ask) per surviving point
    for point in points:
        bid, ask = floor_to(point, tick_size), ceil_to(point, tick_size)
        if bid <= 0:
            raise GridError(
                f"price point {point} rounds to {bid} at tick {tick_size}", field="grid_lower_price"
            )
        if kept and bid <= kept[-1][0]:
            continue  # collapsed into the previous point after rounding
        kept.append((bid, ask))
    if len(kept) < 2:
        raise GridError(
            f"all {num} price points collapse into one tick ({tick_size}); widen the range",
            field="grid_num",
        )
    qty = floor_to(quantity, step_size)
    if qty <= 0 or qty < min_quantity:
        raise GridError(
            f"order_quantity ({quantity}) rounds to {qty} at step {step_size}, below the "
            f"market's minimum quantity ({min_quantity})",
            field="order_quantity",
        )
    slots = tuple(Slot(index=i, buy=kept[i][0], sell=kept[i + 1][1]) for i in range(len(kept) - 1))
    check_fee_coverage(slots, maker_fee)
    return GridLayout(lower=lower, upper=upper, num=num, slots=slots, quantity=qty)


def check_fee_coverage(slots: tuple[Slot, ...], maker_fee: Decimal) -> None:
    """Every slot's spread must exceed the maker fee paid on both legs, or it loses on each trip."""
    for slot in slots:
        step = (slot.sell - slot.buy) / slot.buy
        if step <= 2 * maker_fee:
            raise GridError(
                f"grid step {slot.buy} -> {slot.sell} ({step * 100:.4f}%) does not cover twice "
                f"the maker fee ({maker_fee * 100:.4f}% per side); use fewer points (grid_num) or "
                "a wider range",
                field="grid_num",
            )
