"""Every unit held has its exit: inventory closes for position no grid level closes. Pure.

The exit invariant's support in the planner: a partial opening fill, a range change or an
adopted position leaves position that no slot's closing leg covers; `cover_inventory` gives it
one-off closing legs (inventory slots) and drops the ones nothing is left to close.
"""

from __future__ import annotations

from decimal import Decimal

from gridkeeper.bot.client_ids import CLOSE_SLOT
from gridkeeper.bot.grid import floor_to
from gridkeeper.bot.grid_base import GridBase
from gridkeeper.bot.state import INVENTORY_SLOT_BASE, ZERO, Kind, Side, SlotState, TrackedOrder


class InventoryCover(GridBase):
    """The closing cover of the grid's slots, and inventory closes for what it lacks."""

    def closing_cover(self, kind: Kind) -> Decimal:
        """Base quantity the slots of `kind` will close: their pending closing legs."""
        qty = self.grid.quantity
        return sum(
            (
                s.size(qty) - s.leg_filled
                for s in self.state.slots
                if s.phase == "close" and s.kind == kind
            ),
            ZERO,
        )

    def closing_quantity(self, side: str, *, pending: bool) -> Decimal:
        """Unfilled quantity of the grid's closing orders on `side` (position closes aside).

        An order going away (its cancel sent, or no slot owns it any more: this plan cancels
        it) counts only for a spot grid when `pending`: until the exchange has done the cancel
        (a 202 only queues it) its base stays locked and it may still fill. A perp close going
        away never counts: reduce-only stops a late fill of it and of its replacement."""
        return sum((o.quantity - o.filled for o in self._closing_orders(side, pending)), ZERO)

    def _closing_orders(self, side: str, pending: bool) -> list[TrackedOrder]:
        pending = pending and self.market.spot
        owned = {s.order for s in self.state.slots if s.order is not None}
        return [
            o
            for o in self.state.orders.values()
            if o.side == side
            and not o.opening
            and o.slot != CLOSE_SLOT
            and o.status != "gone"
            and (pending or (o.client_id in owned and not o.cancel_sent))
        ]

    def exit_cover(self, kind: Kind, *, pending: bool) -> Decimal:
        """What will close `kind` position: the closing orders (`closing_quantity`), plus the
        pending legs of closing slots whose order is not among them (none yet, gone, or being
        cancelled)."""
        side: Side = "Ask" if kind == "long" else "Bid"
        orders = self._closing_orders(side, pending)
        counted = {o.client_id for o in orders}
        qty = self.grid.quantity
        legs = sum(
            (
                s.size(qty) - s.leg_filled
                for s in self.state.slots
                if s.phase == "close" and s.kind == kind and s.order not in counted
            ),
            ZERO,
        )
        return sum((o.quantity - o.filled for o in orders), ZERO) + legs

    def cover_inventory(self, *, at_book: bool = False) -> None:
        """Give every unit of the position a closing leg: inventory slots for what the grid's
        levels do not hold (a partial opening fill, a range change, an adopted position), and
        none for what nothing is left to close. `at_book`: price new ones at the book's top."""
        st, market = self.state, self.market
        held = st.position
        kind: Kind = "long" if held > 0 else "short"
        for slot in [s for s in st.slots if s.inventory and (held == 0 or s.kind != kind)]:
            st.slots.remove(slot)  # nothing of that side left to close; plan cancels its order
        if held == 0:
            return
        # Measured by the closing orders themselves, not only the slots' legs: a close sent
        # shorter than its leg (its base was locked by a spot sell being cancelled) covers only
        # what it carries, and the base freed once that cancel is done needs an exit too. The
        # cancel-pending spot sell counts while deciding to add (its base is still locked, it
        # still rests), not while deciding to shrink (it is going away): so the two decisions
        # can never undo each other.
        cover = self.exit_cover(kind, pending=False)
        excess = cover - abs(held)
        if excess > 0:
            self._shrink_inventory_closes(kind, excess, at_book=at_book)
            return
        # `pending` counts only on spot: a perp's cover is the one just measured.
        gap = abs(held) - (self.exit_cover(kind, pending=True) if market.spot else cover)
        qty = floor_to(gap, market.step_size)
        if qty <= 0 or qty < market.min_quantity:
            return  # dust below one order: nothing can be sent for it
        self.add_inventory_close(kind, qty, at_book=at_book)

    def _shrink_inventory_closes(self, kind: Kind, excess: Decimal, *, at_book: bool) -> None:
        """More closes than position (the slot's own close took over from a partial fill's
        inventory close, or a close of ours filled beyond what the levels expected): take the
        excess off the inventory closes, farthest from the price first. One larger than what is
        left of the excess is replaced by a smaller one at its price (its order is cancelled,
        the new one placed): kept whole, it would hold the slot's own close back, and a later
        partial fill would get no close at all."""
        st, market = self.state, self.market
        mark = st.last_price or ZERO
        extra = sorted(
            (s for s in st.slots if s.inventory and s.kind == kind),
            key=lambda s: -abs(s.sell - mark),
        )
        for slot in extra:
            if excess <= 0:
                return
            left = slot.size(self.grid.quantity) - slot.leg_filled
            st.slots.remove(slot)
            if left <= excess:
                excess -= left
                continue
            keep = floor_to(left - excess, market.step_size)
            excess = ZERO
            if keep > 0 and keep >= market.min_quantity:
                self.add_inventory_close(kind, keep, at_book=at_book, price=slot.sell)

    def add_inventory_close(
        self, kind: Kind, qty: Decimal, *, at_book: bool, price: Decimal | None = None
    ) -> SlotState:
        """A one-off closing leg of `qty` for `kind` position: at `price` if given, else at the
        nearest grid level on the right side of the book (or at the book's top when `at_book`
        or when there is none)."""
        side: Side = "Ask" if kind == "long" else "Bid"
        if price is None:
            price = self._clear_of_own(side, self.touch(side))
            levels = [
                s.sell if side == "Ask" else s.buy for s in self.state.slots if not s.inventory
            ]
            right = [
                p for p in levels if self.can_rest(side, p) and self._clear_of_own(side, p) == p
            ]
            if right and not at_book:
                price = min(right) if side == "Ask" else max(right)
        used = {s.index for s in self.state.slots}
        index = next(i for i in range(INVENTORY_SLOT_BASE, CLOSE_SLOT) if i not in used)
        slot = SlotState(
            index=index,
            buy=price,
            sell=price,
            kind=kind,
            phase="close",
            quantity=qty,
            inventory=True,
        )
        self.state.slots.append(slot)
        self.emit(
            "inventory_close",
            f"{side} {qty} @ {price} closes position no grid level holds",
            slot=index,
            side=side,
            price=str(price),
            quantity=str(qty),
            position=str(self.state.position),
        )
        return slot
