"""`grid adopt`: accept the exchange's position as the grid's own. Pure.

After a manual trade, a liquidation or a fill the bot never saw, the grid's position differs
from the exchange's and the bot pauses (`position_mismatch`). Adopting books the difference as
if it had been traded at the mark price: cash moves by `difference * mark`, so total PnL at the
mark does not jump (the loss or gain already happened, and it stays in the books), then the grid
is laid out again from the new position so every held unit gets its closing order, and trading
resumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gridkeeper.bot.limits import MISMATCH
from gridkeeper.bot.lots import book_difference
from gridkeeper.bot.strategy import GridStrategy

__all__ = ["MISMATCH", "Adoption", "adopt_position"]


@dataclass(frozen=True)
class Adoption:
    before: Decimal
    after: Decimal
    mark: Decimal

    @property
    def difference(self) -> Decimal:
        return self.after - self.before


def adopt_position(
    strategy: GridStrategy, exchange_position: Decimal, mark_price: Decimal
) -> Adoption:
    """Make `exchange_position` the grid's position, booked at `mark_price`; re-lay the grid."""
    st = strategy.state
    before = st.position
    diff = exchange_position - before
    # The FIFO lots follow: a difference that adds opens a lot at the mark; one that reduces
    # consumes the oldest lots, realizing their result.
    book_difference(st, diff, mark_price)
    st.last_price = st.last_price or mark_price
    # Re-lay the slots from the position just adopted (same range): orders that still fit are
    # kept, plan() cancels the rest and places a close for every held unit.
    strategy.rebuild(f"adopted the exchange's position {exchange_position}")
    adoption = Adoption(before, exchange_position, mark_price)
    if st.status == "paused" and (st.reason or "").startswith(MISMATCH):
        st.status, st.reason, st.auto_resume = "running", None, False
    strategy.emit(
        "position_adopted",
        f"adopted the exchange's position {exchange_position} (was {before}) at {mark_price}",
        before=str(before),
        after=str(exchange_position),
        difference=str(diff),
        mark_price=str(mark_price),
        total_pnl=str(st.total_pnl(mark_price)),
    )
    return adoption
