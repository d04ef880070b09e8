"""Laying slots out around the price, with a given inventory. Pure.

Slots wholly below the price wait to buy, slots above wait to sell; the slot that straddles the
price takes the side of its farther point, so exactly one price point (the nearest) has no order.
Inventory (a position) turns the nearest sells (long) or buys (short) into closing legs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from gridkeeper.bot.grid import GridLayout, Slot
from gridkeeper.bot.state import Kind, Phase, Side, SlotState

GridType = Literal["neutral", "long", "short"]


def is_below(slot: Slot, price: Decimal) -> bool:
    """True when the slot's pending order should be its buy (the price is nearer its sell)."""
    if slot.sell <= price:
        return True
    if slot.buy >= price:
        return False
    return price - slot.buy >= slot.sell - price


def lay_out(
    grid: GridLayout, price: Decimal, grid_type: GridType, inventory: Decimal, *, spot: bool
) -> list[SlotState]:
    """Slot states for a fresh grid at `price` holding `inventory` (signed base quantity).

    Spot grids behave as long grids whose inventory is the base the grid may sell.
    """
    qty = grid.quantity
    below = [s for s in grid.slots if is_below(s, price)]
    above = [s for s in grid.slots if not is_below(s, price)]
    assigned: dict[int, tuple[Kind, Phase]] = {}
    kind_type = "long" if spot else grid_type
    if kind_type == "long":
        for s in grid.slots:
            assigned[s.index] = ("long", "open")
        units = max(0, int(inventory / qty)) if inventory > 0 else 0
        for s in above[:units]:  # nearest sells first
            assigned[s.index] = ("long", "close")
    elif kind_type == "short":
        for s in grid.slots:
            assigned[s.index] = ("short", "open")
        units = int(-inventory / qty) if inventory < 0 else 0
        for s in list(reversed(below))[:units]:
            assigned[s.index] = ("short", "close")
    else:
        for s in below:
            assigned[s.index] = ("long", "open")
        for s in above:
            assigned[s.index] = ("short", "open")
        if inventory > 0:
            for s in above[: int(inventory / qty)]:
                assigned[s.index] = ("long", "close")
        elif inventory < 0:
            for s in list(reversed(below))[: int(-inventory / qty)]:
                assigned[s.index] = ("short", "close")
    result = []
    for s in grid.slots:
        kind, phase = assigned[s.index]
        state = SlotState(index=s.index, buy=s.buy, sell=s.sell, kind=kind, phase=phase)
        if phase == "close":
            # Inventory laid onto a slot is booked as if bought (sold) at the slot's own level.
            state.open_price = s.buy if kind == "long" else s.sell
        result.append(state)
    return result


def allocated_inventory(slots: list[SlotState], qty: Decimal) -> Decimal:
    """Signed base quantity the laid-out slots hold in their closing legs."""
    total = Decimal(0)
    for s in slots:
        if s.phase == "close":
            total += qty if s.kind == "long" else -qty
    return total


def pending_leg(slot: SlotState) -> tuple[Side, Decimal, bool]:
    """(side, price, opening) of the order the slot wants next."""
    if slot.kind == "long":
        return ("Bid", slot.buy, True) if slot.phase == "open" else ("Ask", slot.sell, False)
    return ("Ask", slot.sell, True) if slot.phase == "open" else ("Bid", slot.buy, False)
