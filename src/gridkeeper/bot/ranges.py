"""Range changes: re-centring on the price, an operator's adjust (checked in full first), and
laying the grid out again around the position it holds. Pure.

A new layout keeps the orders that still fit, gives the position the new levels cannot close
closing orders of its own (inventory closes), and never leaves a held unit without an exit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from gridkeeper.bot.client_ids import CLOSE_SLOT
from gridkeeper.bot.core import GridCore
from gridkeeper.bot.grid import GridError, GridLayout, ceil_to, floor_to
from gridkeeper.bot.layout import allocated_inventory, lay_out, pending_leg
from gridkeeper.bot.params import MAX_GRID_NUM
from gridkeeper.bot.state import ZERO, Kind, SlotState

# What a range change does with position the new levels cannot close: None refuses the change,
# "close" rests closes for it at the book's top, "keep" keeps its current closing orders.
PositionChoice = Literal["close", "keep"] | None


class GridRanges(GridCore):
    """The grid's range: where its levels are, and moving them."""

    def recentre(self, position: PositionChoice = "keep") -> None:
        st = self.state
        if st.last_price is None:
            raise GridError("no price yet", field="grid_lower_price")
        price, tick = st.last_price, self.market.tick_size
        if self.config.grid_mode == "geometric":
            half = (st.upper / st.lower).sqrt()
            lower, upper = price / half, price * half
        else:
            half_width = (st.upper - st.lower) / 2
            lower, upper = price - half_width, price + half_width
        self.adjust(floor_to(lower, tick), ceil_to(upper, tick), None, position=position)

    def check_adjust(
        self,
        lower: Decimal | None,
        upper: Decimal | None,
        num: int | None,
        position: PositionChoice = None,
    ) -> tuple[Decimal, Decimal, int, GridLayout]:
        """Validate a new range in full; raises GridError naming the field. Changes nothing.

        A range whose closing levels (on the right side of the price) cannot hold the whole
        position is refused unless `position` says what to do with the rest."""
        st = self.state
        new_lower = st.lower if lower is None else lower
        new_upper = st.upper if upper is None else upper
        new_num = st.num if num is None else num
        if not 2 <= new_num <= MAX_GRID_NUM:
            raise GridError(f"grid_num ({new_num}) must be 2..{MAX_GRID_NUM}", field="grid_num")
        if new_upper <= 0:
            raise GridError(
                f"grid_upper_price ({new_upper}) must be positive", field="grid_upper_price"
            )
        if new_lower <= 0 or new_lower >= new_upper:
            raise GridError(
                f"grid_lower_price ({new_lower}) must be positive and below "
                f"grid_upper_price ({new_upper})",
                field="grid_lower_price",
            )
        if st.last_price is None:
            raise GridError("no market price known yet; try again", field="grid_lower_price")
        grid = self._build(new_lower, new_upper, new_num)
        if position not in (None, "close", "keep"):
            raise GridError(f"position ({position!r}) must be close or keep", field="position")
        if position is None:
            left = self._unplaced(grid)
            if left >= grid.quantity:
                side = "above" if st.position > 0 else "below"
                raise GridError(
                    f"the range {new_lower}-{new_upper} has closing levels {side} the price "
                    f"({st.last_price}) for {abs(st.position) - left} of the grid's position "
                    f'{st.position}; {left} would have no exit. Choose position "close" '
                    '(close the rest at the best price, reduce-only) or "keep" (keep the '
                    "position's current closing orders), or pick a range with room for it",
                    field="position",
                )
        return new_lower, new_upper, new_num, grid

    def _unplaced(self, grid: GridLayout) -> Decimal:
        """Base quantity of the position the layout of `grid` would leave without a level."""
        st = self.state
        assert st.last_price is not None
        slots = lay_out(
            grid, st.last_price, self.config.grid_type, st.position, spot=self.market.spot
        )
        return abs(st.position) - abs(allocated_inventory(slots, grid.quantity))

    def adjust(
        self,
        lower: Decimal | None,
        upper: Decimal | None,
        num: int | None,
        *,
        position: PositionChoice = None,
    ) -> None:
        """Move the grid; orders that fit the new grid are kept, the rest cancelled by plan().

        The whole position keeps an exit: on the new levels, or (`position`) at the book's
        top ("close") or on its current closing orders ("keep")."""
        new_lower, new_upper, new_num, grid = self.check_adjust(lower, upper, num, position)
        st = self.state
        old = (st.lower, st.upper, st.num)
        kept = self._relayout(grid, position=position)
        st.lower, st.upper, st.num = new_lower, new_upper, new_num
        self.emit(
            "grid_adjusted",
            f"range {old[0]}-{old[1]} ({old[2]}) -> {new_lower}-"
            f"{new_upper} ({new_num}); {kept} orders kept",
            lower=str(new_lower),
            upper=str(new_upper),
            num=new_num,
            kept=kept,
            position=str(st.position),
            position_choice=position,
        )

    def _relayout(self, grid: GridLayout, *, position: PositionChoice, reason: str = "") -> int:
        """Lay `grid` out from the position at the last price, keep the orders that fit, and
        give the rest of the position its exits. Returns how many orders were kept."""
        st = self.state
        assert st.last_price is not None
        slots = lay_out(
            grid, st.last_price, self.config.grid_type, st.position, spot=self.market.spot
        )
        reusable = {
            (o.side, o.price, o.quantity, o.reduce_only): o
            for o in st.orders.values()
            if o.slot != CLOSE_SLOT and o.status != "gone" and not o.cancel_sent and o.filled == 0
        }
        kept = 0
        for slot in slots:
            side, price, opening = pending_leg(slot)
            reduce_only = not opening and not self.market.spot
            match = reusable.pop((side, price, grid.quantity, reduce_only), None)
            if match is not None:
                match.slot, match.opening, slot.order = slot.index, opening, match.client_id
                kept += 1
        old_slots, st.slots, self.grid = st.slots, slots, grid
        if st.position != 0:
            kind: Kind = "long" if st.position > 0 else "short"
            left = abs(st.position) - self.closing_cover(kind)
            if position == "keep":
                left, carried = self._carry_exits(old_slots, kind, left)
                kept += carried
            if position == "close" and left > 0:
                qty = floor_to(left, self.market.step_size)
                if qty > 0 and qty >= self.market.min_quantity:
                    self.add_inventory_close(kind, qty, at_book=True)
        self.cover_inventory()
        if reason:
            self.emit(
                "grid_rebuilt",
                f"grid laid out again from position {st.position}: {reason}",
                reason=reason,
                position=str(st.position),
                kept=kept,
            )
        return kept

    def _carry_exits(
        self, old_slots: list[SlotState], kind: Kind, left: Decimal
    ) -> tuple[Decimal, int]:
        """Keep old closing orders the new layout did not take as inventory closes, nearest to
        the price first, until `left` of the position is covered."""
        st, qty = self.state, self.grid.quantity
        used = {s.order for s in st.slots if s.order is not None}
        mark = st.last_price or ZERO
        carried = 0
        candidates = [
            s
            for s in old_slots
            if s.phase == "close" and s.kind == kind and s.order is not None and s.order not in used
        ]
        for old in sorted(
            candidates, key=lambda s: abs((s.sell if kind == "long" else s.buy) - mark)
        ):
            order = st.orders.get(old.order or -1)
            remaining = old.size(qty) - old.leg_filled
            if order is None or order.cancel_sent or order.status == "gone" or remaining > left:
                continue
            price = order.price if order.price is not None else old.sell
            slot = self.add_inventory_close(kind, remaining, at_book=True, price=price)
            slot.order, order.slot = order.client_id, slot.index
            left -= remaining
            carried += 1
        return left, carried
