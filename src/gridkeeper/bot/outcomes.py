"""Outcome bookkeeping: what the exchange did with our orders, applied to the grid. Pure.

The runner reports each outcome here: placed, rejected (with a per-slot backoff), gone, and
every fill, which moves cash, position and the FIFO lots, and advances the slot's leg.
"""

from __future__ import annotations

from decimal import Decimal

from gridkeeper import backoff
from gridkeeper.bot.client_ids import CLOSE_SLOT, UNOWNED_SLOT
from gridkeeper.bot.grid import floor_to
from gridkeeper.bot.inventory import InventoryCover
from gridkeeper.bot.lots import apply_fill
from gridkeeper.bot.state import ZERO, SlotState, TrackedOrder
from gridkeeper.exchange.models import Fill

REJECT_BACKOFF_MS = 5000  # first wait after a refused order; doubles per refusal of the slot
REJECT_BACKOFF_MAX_MS = 300_000  # cap: a level refused forever costs one order per 5 minutes


class OutcomeBook(InventoryCover):
    """Applies order outcomes and fills to the grid's state."""

    def on_placed(self, client_id: int, order_id: str, status: str, executed: Decimal) -> None:
        order = self.state.orders.get(client_id)
        if order is None:
            return
        order.status = "live"
        order.order_id = order_id
        self._reset_backoff(order.slot)
        self.emit(
            "order_placed",
            f"order {order_id} live",
            client_id=client_id,
            order_id=order_id,
            status=status,
        )
        if status in ("Cancelled", "Expired", "Filled"):
            self.on_gone(client_id, executed)

    def on_rejected(self, client_id: int, code: str, message: str, now_ms: int) -> None:
        order = self.state.orders.pop(client_id, None)
        if order is None:
            return
        wait_ms = REJECT_BACKOFF_MS
        if order.slot == CLOSE_SLOT:
            self.state.close_missed = True  # the next close backs off (planning._plan_close)
        for slot in self.state.slots:
            if slot.order == client_id:
                slot.order = None
                wait_ms = self._reject_backoff(slot)
                slot.retry_after_ms = now_ms + wait_ms
        self.emit(
            "order_rejected",
            f"{code}: {message}",
            client_id=client_id,
            code=code,
            reduce_only=order.reduce_only,
            retry_in_ms=wait_ms,
        )

    @staticmethod
    def _reject_backoff(slot: SlotState) -> int:
        """Per slot: 5 s, 10 s, 20 s ... capped; an accepted order resets it (on_placed)."""
        slot.rejects += 1
        return int(backoff.delay(slot.rejects - 1, REJECT_BACKOFF_MS, REJECT_BACKOFF_MAX_MS))

    def _reset_backoff(self, slot_index: int) -> None:
        for slot in self.state.slots:
            if slot.index == slot_index:
                slot.rejects = 0

    def on_gone(self, client_id: int, executed: Decimal) -> None:
        """The exchange no longer holds the order; `executed` of it filled in total."""
        order = self.state.orders.get(client_id)
        if order is None:
            return
        order.status = "gone"
        order.final_executed = executed
        if order.slot == UNOWNED_SLOT:
            # A duplicate no slot owns: no slot waits for its fills (a late one still moves the
            # position, as an untracked fill), so nothing is gained by tracking it further.
            self.state.orders.pop(client_id, None)
            return
        self._finalize_if_done(order)

    def _finalize_if_done(self, order: TrackedOrder) -> None:
        done = order.filled >= order.quantity or (
            order.final_executed is not None and order.filled >= order.final_executed
        )
        if not done:
            return
        self.state.orders.pop(order.client_id, None)
        if order.slot == CLOSE_SLOT:
            # A market close that took less than half its size met a thin book: resending at
            # once would expire the same way (every loop, each with a new clientId).
            self.state.close_missed = order.filled * 2 < order.quantity
            if not self.state.close_missed:
                self.state.close_misses = 0
        for slot in self.state.slots:
            if slot.order == order.client_id:
                slot.order = None

    def on_fill(self, fill: Fill) -> None:
        """Apply one fill of one of our orders (the caller guarantees it is new)."""
        st, qty, price = self.state, fill.quantity, fill.price
        sign = 1 if fill.side == "Bid" else -1
        cash_before = st.cash
        base_delta = qty * sign
        fee_quote = ZERO
        if fill.fee_symbol == self.market.base:
            base_delta -= fill.fee
            fee_quote = fill.fee * price
        elif fill.fee_symbol in (self.market.quote, ""):
            fee_quote = fill.fee
            st.cash -= fill.fee
        st.cash -= sign * qty * price
        st.position += base_delta
        if st.position == 0:
            # Flat: the mark values nothing, and kept it would value the next position at a
            # price from when the grid last held one (the fast path checks the limits before it
            # reads the mark again): a stop-loss fired on a loss that never was.
            st.mark_price = None
        st.fees += fee_quote
        before = st.realized_profit
        st.lots = apply_fill(st.lots, base_delta, cash_before - st.cash)
        st.realized_profit = st.book_realized()
        st.fills_applied += 1
        st.checkpoint_ms = max(st.checkpoint_ms, fill.timestamp_ms)
        order = self._order_for(fill)
        self.emit(
            "fill",
            f"{fill.side} {qty} @ {price}",
            trade_id=fill.trade_id,
            client_id=fill.client_id,
            order_id=fill.order_id,
            side=fill.side,
            price=str(price),
            quantity=str(qty),
            fee=str(fill.fee),
            fee_symbol=fill.fee_symbol,
            position=str(st.position),
        )
        if order is None:
            self.emit(
                "untracked_fill",
                "fill of an order no slot owns; position updated",
                trade_id=fill.trade_id,
                client_id=fill.client_id,
            )
            return
        order.filled += qty
        slot = next((s for s in st.slots if s.order == order.client_id), None)
        if st.realized_profit != before:
            profit = st.realized_profit - before
            self.emit(
                "profit",
                f"{'slot ' + str(slot.index) if slot else 'close'} realized {profit} (FIFO)",
                slot=slot.index if slot else order.slot,
                profit=str(profit),
                realized_profit=str(st.realized_profit),
            )
        if slot is not None:
            base_fee = fill.fee if fill.fee_symbol == self.market.base else ZERO
            self._advance(slot, order, price, qty, fee_quote, base_fee)
        self._finalize_if_done(order)
        if order.slot == CLOSE_SLOT and st.closing and order.client_id not in st.orders:
            self._close_done()

    def _order_for(self, fill: Fill) -> TrackedOrder | None:
        if fill.client_id is not None and fill.client_id in self.state.orders:
            return self.state.orders[fill.client_id]
        for order in self.state.orders.values():
            if order.order_id is not None and order.order_id == fill.order_id:
                return order
        return None

    def _advance(
        self,
        slot: SlotState,
        order: TrackedOrder,
        price: Decimal,
        qty: Decimal,
        fee: Decimal,
        base_fee: Decimal = ZERO,
    ) -> None:
        if order.opening:
            paid = (slot.open_price or ZERO) * slot.leg_filled + price * qty
            slot.open_price = paid / (slot.leg_filled + qty)
            slot.open_fee += fee
            slot.open_base_fee += base_fee
        else:
            slot.close_value += price * qty
            slot.close_fee += fee
        slot.leg_filled += qty
        if slot.leg_filled < slot.size(self.grid.quantity):
            return
        if slot.inventory:
            self.state.slots.remove(slot)  # a one-off close: done
            return
        if order.opening:
            slot.phase = "close"
        else:
            slot.phase = "open"
            slot.open_price = None
            slot.open_fee = slot.close_value = slot.close_fee = ZERO
            slot.open_base_fee = ZERO
            slot.quantity = None  # the next opening leg is the grid's size again
        slot.leg_filled = ZERO
        slot.order = None
        if order.opening and slot.open_base_fee > 0:
            self._size_close_to_delivery(slot)

    def _size_close_to_delivery(self, slot: SlotState) -> None:
        """A spot buy pays its fee in base: it delivered a hair less than it bought. Its close
        sells the whole leg only while the grid's own position covers it (the slivers earlier
        rounding left, counted with every other close); else what was delivered, rounded down
        to the step. Never the account's own base: that shortfall grew by the fee with every
        round trip, outgrew any allowance, and left closes short and their levels stuck."""
        uncovered = abs(self.state.position) - self.exit_cover(slot.kind, pending=True)
        if uncovered < 0:
            delivered = slot.size(self.grid.quantity) - slot.open_base_fee
            slot.quantity = floor_to(delivered, self.market.step_size)
