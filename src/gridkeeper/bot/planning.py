"""Planning: which orders the grid wants now, given its state, the book and its limits. Pure.

`plan` cancels what must go and places what the slots want: opening legs on their side of the
book's top and inside the price band, through the `max_position` gate; closing legs never
skipped (through-market closes, band edges); the reduce-only market close of a closing phase.
"""

from __future__ import annotations

from decimal import Decimal

from gridkeeper import backoff
from gridkeeper.bot.actions import Action, Cancel, Place
from gridkeeper.bot.client_ids import CLOSE_SLOT
from gridkeeper.bot.close_size import CloseSize, close_size
from gridkeeper.bot.grid import floor_to
from gridkeeper.bot.inventory import InventoryCover
from gridkeeper.bot.layout import pending_leg
from gridkeeper.bot.limits import MISMATCH
from gridkeeper.bot.lots import book_difference
from gridkeeper.bot.outcomes import REJECT_BACKOFF_MAX_MS, REJECT_BACKOFF_MS
from gridkeeper.bot.state import ZERO, SlotState, TrackedOrder

SPOT_FEE_SLACK = Decimal("0.01")


class GridPlanner(InventoryCover):
    """From the grid's state to the orders to place and cancel."""

    def plan(self, now_ms: int) -> list[Action]:
        """Cancels for orders that must go, places for slots that want an order."""
        st = self.state
        actions: list[Action] = []
        if st.status == "running":
            # Before the cancels: an inventory close dropped or shrunk here has its order
            # cancelled in this same plan, so the close replacing it is not held back a loop.
            self._net_offsetting()
            self.cover_inventory()
        # Each order's slot (the first that holds it), looked up once per plan: the loop below
        # changes no slot, and a scan of the slots per order made plan quadratic.
        owners: dict[int, SlotState] = {}
        for s in st.slots:
            if s.order is not None and s.order not in owners:
                owners[s.order] = s
        wanted = owners
        for order in st.orders.values():
            if order.status != "live" or order.cancel_sent:
                continue
            is_close = order.slot == CLOSE_SLOT
            stale = not is_close and order.client_id not in wanted
            kept_exit = (st.keep_orders or (st.keep_exits and not order.opening)) and not stale
            # A close resting at the band's edge (short of its level) goes back to its level
            # once the band and the book allow it there.
            stale = stale or (
                st.status == "running"
                and not order.opening  # (the first test of _exit_can_return, without the call)
                and self._exit_can_return(order, owners.get(order.client_id))
            )
            if stale or (st.status != "running" and not is_close and not kept_exit):
                order.cancel_sent = True
                actions.append(Cancel(order.client_id, order.order_id))
        if st.status == "running":
            self._blocked = {}
            # Nearest first: when max_position binds, the likeliest fills are the ones kept.
            mark = st.last_price or ZERO
            # Only the slots that want an order are sorted (a stable sort of the same key: the
            # same order as sorting every slot and skipping the others; placing one slot
            # changes no other slot's order or back-off).
            idle = [s for s in st.slots if s.order is None and now_ms >= s.retry_after_ms]
            for slot in sorted(idle, key=lambda s: abs(s.buy + s.sell - 2 * mark)):
                if slot.order is None and now_ms >= slot.retry_after_ms:
                    place = self._place_for(slot)
                    if place is not None:
                        actions.append(place)
            self._log_held_back()
        elif st.closing and not self.close_reads_exchange and self.close_due(now_ms):
            # The backtest: its simulated exchange is the grid's books. The bot sends its close
            # from the runner, which reads the exchange's figure first (plan_close).
            actions.extend(self.plan_close(now_ms, None))
        return actions

    def _log_held_back(self) -> None:
        for side, (worst, limit) in sorted(self._blocked.items()):
            if side not in self._held_back:
                self.emit(
                    "max_position",
                    f"{side} held back: exposure {worst} > {limit}",
                    side=side,
                    exposure=str(worst),
                    max_position=str(limit),
                )
        for side in sorted(self._held_back - set(self._blocked)):
            self.emit("max_position", f"{side} no longer held back", side=side, released=True)
        self._held_back = set(self._blocked)

    def _net_offsetting(self) -> None:
        """Pair a held long leg with a held short leg (perp neutral, one-way position).

        Both can be held at once only after fills the bot saw late (a restart): the position
        nets them out, so neither reduce-only close could execute. Bought low and sold high
        already, the pair is one round trip: booked, and both slots go back to opening.
        """
        if self.market.spot:
            return
        idle = [
            s
            for s in self.state.slots
            if s.phase == "close" and s.order is None and s.leg_filled == 0 and not s.inventory
        ]
        longs = sorted((s for s in idle if s.kind == "long"), key=lambda s: s.index)
        shorts = sorted((s for s in idle if s.kind == "short"), key=lambda s: -s.index)
        for long_slot, short_slot in zip(longs, shorts, strict=False):
            # The fills already netted in the position and its FIFO lots: nothing to book.
            self.emit(
                "netted",
                f"slots {long_slot.index}+{short_slot.index} netted",
                slot=long_slot.index,
                paired_slot=short_slot.index,
            )
            for slot in (long_slot, short_slot):
                slot.phase, slot.open_price, slot.open_fee = "open", None, ZERO

    def _place_for(self, slot: SlotState) -> Place | None:
        st = self.state
        side, price, opening = pending_leg(slot)
        remaining = slot.size(self.grid.quantity) - slot.leg_filled
        if remaining <= 0 or st.last_price is None:
            return None
        post_only = self.config.post_only
        if not self.can_rest(side, price):
            if opening:
                return None  # would take: an opening leg waits for the price to come back
            # A closing leg is never skipped: the market went through its level (a gap, a
            # restart), so it goes to the book's top on its side (or a bounded taker close).
            price, post_only = self._through_market(side)
        if self.outside_band(price):
            if opening:
                return None  # the exchange would refuse it: the level waits for the price
            # A close is never left out: it rests at the band's edge on its side (a worse price
            # than its level, but the held unit keeps an exit) until the band reaches its level.
            price = self._band_edge(price)
        if self._clear_of_own(side, price) != price:
            # It would trade with the grid's own order on the other side (a partially filled
            # leg still resting at this level): self-trade prevention would expire it at once.
            if opening:
                return None  # waits until the other order is done
            price = self._clear_of_own(side, price)  # a close rests just past it
        if opening and not self._gate_allows(side, remaining):
            return None
        if not opening:
            remaining = self._closable(side, remaining)
            if remaining <= 0:
                return None
        order = TrackedOrder(
            client_id=self._next_id(slot.index),
            slot=slot.index,
            side=side,
            price=price,
            quantity=remaining,
            reduce_only=not opening and not self.market.spot,
            opening=opening,
        )
        st.orders[order.client_id] = order
        slot.order = order.client_id
        self.emit(
            "order_intent",
            f"{side} {remaining} @ {price} (slot {slot.index})",
            client_id=order.client_id,
            slot=slot.index,
            side=side,
            price=str(price),
            quantity=str(remaining),
            opening=opening,
            reduce_only=order.reduce_only,
        )
        return Place(order, post_only)

    def _exit_can_return(self, order: TrackedOrder, slot: SlotState | None) -> bool:
        """`slot`: the (first) slot holding `order`, if any."""
        if order.opening or order.filled > 0 or order.price is None:
            return False
        if slot is None or slot.inventory:
            return False
        side, level, _ = pending_leg(slot)
        # Only a band clamp leaves a close short of its level (a sell below it, a buy above it);
        # a close the market went through rests beyond it and stays until it fills.
        short = order.price < level if side == "Ask" else order.price > level
        return (
            short
            and not self.outside_band(level)
            and self.can_rest(side, level)
            and self._clear_of_own(side, level) == level
        )

    def _opening_quantity(self, side: str) -> Decimal:
        """Unfilled quantity of the grid's opening orders on `side` (closing ones:
        `closing_quantity`)."""
        return sum(
            (
                o.quantity - o.filled
                for o in self.state.orders.values()
                if o.side == side and o.opening and o.slot != CLOSE_SLOT and o.status != "gone"
            ),
            ZERO,
        )

    def _gate_allows(self, side: str, qty: Decimal) -> bool:
        limit = self.config.max_position
        if limit is None:
            return True
        pos = self.state.position
        exposure = pos if side == "Bid" else -pos
        worst = exposure + self._opening_quantity(side) + qty
        if worst > limit:
            self._blocked.setdefault(side, (worst, limit))
            return False
        return True

    def _closable(self, side: str, qty: Decimal) -> Decimal:
        """How much of a closing leg of `qty` may be sent: what is held and not already under
        another close. A leg larger than that (its slot's fill was partly closed by an
        inventory close meanwhile) is sent for what is held; the slot places the rest once it
        is held. 0: nothing (less than one order)."""
        pos = self.state.position
        held = pos if side == "Ask" else -pos
        room = held - self.closing_quantity(side, pending=True)
        # Spot buys pay their fee in base, so a bought unit arrives a hair short. A slot's close
        # sells what its buy delivered (outcomes._advance), so this allowance never grows; it
        # remains for legs laid out whole (a rebuild, a state saved before delivered sizing):
        # the account's own base covers that sliver (SPOT_FEE_SLACK of a unit), not a unit.
        slack = qty * SPOT_FEE_SLACK if self.market.spot else ZERO
        if room >= qty - slack:
            return qty
        part = floor_to(room, self.market.step_size)
        return part if part > 0 and part >= self.market.min_quantity else ZERO

    def close_due(self, now_ms: int) -> bool:
        """Whether the closing phase wants its market close now: the grid's other orders are
        through, no close is out, something is left to close, the back-off has passed. Starts
        the back-off after a close that missed (call once per cycle)."""
        st = self.state
        if not st.closing or st.status == "running":
            return False
        if any(o.slot != CLOSE_SLOT for o in st.orders.values()):
            return False  # cancels still in flight
        if any(o.slot == CLOSE_SLOT for o in st.orders.values()):
            return False
        if self._close_done():
            st.close_missed, st.close_misses, st.close_retry_after_ms = False, 0, 0
            return False
        if st.close_missed:
            # The last close expired (or was refused) with little filled: the book is thin.
            # Back off like a refused order instead of sending a market order every loop.
            st.close_missed = False
            st.close_misses += 1
            wait_ms = int(
                backoff.delay(st.close_misses - 1, REJECT_BACKOFF_MS, REJECT_BACKOFF_MAX_MS)
            )
            st.close_retry_after_ms = now_ms + wait_ms
            self.emit(
                "close_backoff",
                f"the position close filled little (thin book); next try in {wait_ms} ms",
                position=str(st.position),
                misses=st.close_misses,
                retry_in_ms=wait_ms,
            )
        return now_ms >= st.close_retry_after_ms

    def plan_close(self, now_ms: int, exchange: Decimal | None) -> list[Action]:
        """The market close, sized against the exchange's figure read just now (`close_size`:
        perps the net position, spot the available base; None: unchecked). Call after
        `close_due` said yes, with no await between the read and the send that could let
        another close out."""
        st = self.state
        if not st.closing or st.status == "running" or st.close_missed:
            return []
        if st.orders or now_ms < st.close_retry_after_ms:
            return []
        grid_close = self._close_quantity()
        size = close_size(
            grid_close, exchange, step=self.market.step_size, min_quantity=self.market.min_quantity
        )
        price = st.valuation_price()
        if size.write_off != 0 and price is None:
            return []  # nothing to book it at yet (no price read): the next cycle
        if size.capped:
            self._report_capped(size, grid_close, exchange)
        if size.write_off != 0 and price is not None:
            # Gone already (by hand, a liquidation): booked at the market price, as `grid adopt`
            # books a difference, so the grid's books agree with the exchange after the close.
            book_difference(st, size.write_off, price)
            if st.position == 0:
                st.mark_price = None  # flat: the mark values nothing (as on a fill)
        if size.verdict == "opposite":
            self._close_refused(grid_close, exchange)
            return []
        if size.verdict != "send":
            self._close_done()  # nothing the exchange holds is left for an order
            return []
        order = TrackedOrder(
            client_id=self._next_id(CLOSE_SLOT),
            slot=CLOSE_SLOT,
            side=size.side,
            price=None,
            quantity=size.quantity,
            reduce_only=not self.market.spot,
            opening=False,
        )
        st.orders[order.client_id] = order
        self.emit(
            "order_intent",
            f"close {size.side} {size.quantity} at market",
            client_id=order.client_id,
            side=size.side,
            quantity=str(size.quantity),
            reduce_only=order.reduce_only,
        )
        return [Place(order, post_only=False)]

    def _report_capped(
        self, size: CloseSize, grid_close: Decimal, exchange: Decimal | None
    ) -> None:
        what = "available base" if self.market.spot else "position"
        if size.verdict == "opposite":
            why = "the exchange's position is on the other side: nothing sent"
        elif size.verdict == "flat":
            why = f"the exchange's {what} is 0: nothing left to close"
        elif size.verdict == "dust":
            why = f"the exchange's {what} is below one order: nothing sent"
        elif size.exchange_larger:
            why = "the exchange holds more than the grid: only the grid's quantity is closed"
        else:
            why = f"the exchange's {what} is smaller: only that is closed"
        self.emit(
            "close_capped",
            f"close of {grid_close} against the exchange's {exchange}: {why}",
            grid_quantity=str(grid_close),
            exchange=str(exchange),
            quantity=str(size.quantity),
            written_off=str(size.write_off),
            verdict=size.verdict,
        )

    def _close_refused(self, grid_close: Decimal, exchange: Decimal | None) -> None:
        """The exchange holds the other side: the close ends, and the operator decides."""
        st = self.state
        st.closing = False
        st.close_missed, st.close_misses, st.close_retry_after_ms = False, 0, 0
        st.reason = (
            f"{MISMATCH}: close not sent: the grid holds {grid_close}, the exchange's position "
            f"is {exchange} (the other side); a close would add to it. Close it on the exchange "
            f"by hand, or `gridkeeper grid adopt {self.instance}` then `stop --flatten`"
        )
        self.emit(
            MISMATCH, st.reason, grid_position=str(grid_close), exchange_position=str(exchange)
        )
