"""How much a closing market order may send: the grid's close against the exchange's figure. Pure.

A close (`emergency_close`, the `close` limit action, `stop --flatten`) flattens what the grid
holds by its own books. Those books can hold more than the exchange does: a limit that fires in
the seconds before a position mismatch is confirmed, a flatten in a `position_mismatch` pause, a
part of the position closed by hand. A perp reduce-only close larger than the exchange's position
is refused as a whole (and retried for ever, the real position left open without an exit); a spot
sell larger than the grid's share would take the account's own base. So the runner reads the
exchange's figure right before each close and sends what this module decides:

- perps: `exchange` is the account's net position on the symbol. Same side as the grid's: send
  min(|grid|, |exchange|). Flat: send nothing; the close is done. The other side: send nothing
  (a close in the grid's direction would add to the exchange's position, never reduce it) and
  stop the close for the operator to decide.
- spot: `exchange` is the base balance available. Send min(what the grid bought, available).

What the grid holds beyond the exchange's figure is gone already (traded by hand, liquidated):
`write_off` is that part, as a signed change of the grid's position, for the caller to book at
the market price (as `grid adopt` books a difference) so the grid's books agree with the
exchange once the close fills. An exchange holding *more* than the grid closes only the grid's
quantity: the rest is not the grid's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from gridkeeper.bot.grid import floor_to
from gridkeeper.bot.state import ZERO, Side

Verdict = Literal["send", "flat", "opposite", "dust"]


@dataclass(frozen=True)
class CloseSize:
    """What one close sends, and why."""

    verdict: Verdict  # send | flat (nothing held) | opposite (stop) | dust (below one order)
    quantity: Decimal  # unsigned, on the step; 0 when nothing is sent
    side: Side  # the closing direction of the grid's own position
    write_off: Decimal  # signed change of the grid's position the exchange has already made
    exchange_larger: bool = False  # the exchange holds more than the grid (the rest is left)

    @property
    def capped(self) -> bool:
        """The exchange's figure changed what the grid alone would have sent."""
        return self.verdict != "send" or self.write_off != 0 or self.exchange_larger


def close_size(
    grid_close: Decimal,
    exchange: Decimal | None,
    *,
    step: Decimal,
    min_quantity: Decimal,
) -> CloseSize:
    """The close of the grid's signed `grid_close` (perps: its position; spot: the base it
    bought, >= 0) against the exchange's signed figure (perps: net position; spot: available
    base). `exchange` None: no figure to check against (the backtest, whose simulated
    exchange *is* the grid's books): the grid's quantity is sent."""
    side: Side = "Ask" if grid_close > 0 else "Bid"
    whole = floor_to(abs(grid_close), step)
    if exchange is None:
        return CloseSize("send", whole, side, ZERO)
    if grid_close == 0:
        return CloseSize("flat", ZERO, side, ZERO)
    if exchange == 0:
        # Nothing to close: the grid's whole quantity was closed elsewhere.
        return CloseSize("flat", ZERO, side, -grid_close)
    if (exchange > 0) != (grid_close > 0):
        # A close in the grid's direction would grow the exchange's position (spot never gets
        # here: a balance is not negative).
        return CloseSize("opposite", ZERO, side, ZERO)
    if abs(exchange) >= abs(grid_close):
        return CloseSize("send", whole, side, ZERO, exchange_larger=abs(exchange) > abs(grid_close))
    qty = floor_to(abs(exchange), step)
    write_off = exchange - grid_close  # the grid keeps exactly the exchange's figure
    if qty <= 0 or qty < min_quantity:
        return CloseSize("dust", ZERO, side, write_off)
    return CloseSize("send", qty, side, write_off)
