"""FIFO cost basis: the position as lots, oldest first. Pure.

One cost basis everywhere (API, stop-loss, restarts, range changes): a fill that adds to the
position opens a lot at what it really cost; a fill that reduces it consumes the oldest lots. The
grid's levels never re-price inventory, so a re-centre or rebuild does not change realized profit.
"""

from __future__ import annotations

from decimal import Decimal

from gridkeeper.bot.state import ZERO, GridState, Lot


def apply_fill(lots: list[Lot], base_delta: Decimal, cost: Decimal) -> list[Lot]:
    """Lots after a fill that changed the position by `base_delta` (signed base) and cost
    `cost` (signed quote: paid for a buy, minus received for a sell, fees included)."""
    if base_delta == 0:
        return [*lots[:-1], Lot(lots[-1].quantity, lots[-1].cost + cost)] if lots else []
    held = sum((lot.quantity for lot in lots), ZERO)
    if held == 0 or (held > 0) == (base_delta > 0):
        return [*lots, Lot(base_delta, cost)]
    result = [Lot(lot.quantity, lot.cost) for lot in lots]
    left = abs(base_delta)
    while result and left > 0:
        first = result[0]
        size = abs(first.quantity)
        if size <= left:
            result.pop(0)
            left -= size
            continue
        keep = (size - left) / size
        result[0] = Lot(first.quantity * keep, first.cost * keep)
        left = ZERO
    if left > 0:
        # The fill went through zero: what is left of it opens a lot the other way.
        share = left / abs(base_delta)
        sign = 1 if base_delta > 0 else -1
        result.append(Lot(sign * left, cost * share))
    return result


def book_difference(state: GridState, diff: Decimal, price: Decimal) -> None:
    """Book a change of the position the grid did not trade itself (a manual trade, a
    liquidation: `grid adopt`, a close finding less than the grid holds) as if traded at
    `price`: cash moves by `diff * price`, so total PnL at that price does not jump (the loss or
    gain already happened and stays in the books); the FIFO lots follow, realizing what a
    reducing difference consumes."""
    cash_before = state.cash
    state.position += diff
    state.cash -= diff * price  # bought (diff > 0) or sold (diff < 0) at the price
    state.lots = apply_fill(state.lots, diff, cash_before - state.cash)
    state.realized_profit = state.book_realized()
