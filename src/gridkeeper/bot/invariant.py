"""The grid's safety invariant, as a pure check. Pure.

While the grid trades, every unit of position it holds has a closing order for it: resting on
the exchange, or sent and not answered yet (reduce-only on perps). `exit_gaps` measures how far
the state is from that; `ExitWatch` decides when a gap has lasted too long to be a race (a
post-only close refused because the price moved, a 429) and the grid must pause instead.

The other half of the invariant (the grid's position equals the exchange's) is checked against
the exchange's own figure in the bot's full reconcile (`position_mismatch`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from gridkeeper.bot.client_ids import UNOWNED_SLOT
from gridkeeper.bot.state import ZERO, GridState, TrackedOrder

GRACE_MS = 30_000  # a gap that lasts this long is not a race: the grid pauses


@dataclass(frozen=True)
class ExitGaps:
    """Held position against the closing quantity that exists for it."""

    held: Decimal  # the grid's signed position
    resting: Decimal  # closing quantity of live orders on the side that reduces it
    pending: Decimal  # closing quantity sent (or about to be) and not acknowledged yet
    dust: Decimal  # below this an order cannot be sent: not a gap

    @property
    def uncovered(self) -> Decimal:
        return max(ZERO, abs(self.held) - self.resting - self.pending)

    @property
    def broken(self) -> bool:
        return self.uncovered >= self.dust and self.uncovered > 0

    def describe(self) -> str:
        return (
            f"position {self.held} has closing orders for {self.resting + self.pending} "
            f"({self.resting} resting, {self.pending} pending); {self.uncovered} has no exit"
        )


def closing_orders(state: GridState) -> Iterable[TrackedOrder]:
    """The orders that reduce the grid's position (a position close included)."""
    side = "Ask" if state.position > 0 else "Bid"
    for order in state.orders.values():
        if order.opening or order.slot == UNOWNED_SLOT or order.cancel_sent:
            continue
        if order.status == "gone" or order.side != side:
            continue
        yield order


def exit_gaps(state: GridState, min_quantity: Decimal) -> ExitGaps:
    """How much of the held position has no closing order (`min_quantity`: the market's)."""
    resting = pending = ZERO
    if state.position != 0:
        for order in closing_orders(state):
            left = order.quantity - order.filled
            if order.status == "live":
                resting += left
            else:
                pending += left
    return ExitGaps(held=state.position, resting=resting, pending=pending, dust=min_quantity)


class ExitWatch:
    """Tracks how long the invariant has been broken; pauses only a gap that outlives a race."""

    def __init__(self, grace_ms: int = GRACE_MS) -> None:
        self.grace_ms = grace_ms
        self.since_ms: int | None = None

    def overdue(self, gaps: ExitGaps, now_ms: int) -> bool:
        if not gaps.broken:
            self.since_ms = None
            return False
        if self.since_ms is None:
            self.since_ms = now_ms
        return now_ms - self.since_ms >= self.grace_ms
