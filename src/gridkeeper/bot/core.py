"""The grid's bookkeeping core: planning orders and applying their outcomes. Pure.

`GridStrategy` (strategy.py) adds prices, risk actions and range changes on top of this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gridkeeper.bot.client_ids import CLOSE_SLOT, instance_tag, make_client_id
from gridkeeper.bot.grid import GridLayout, build_layout, ceil_to, floor_to
from gridkeeper.bot.invariant import ExitWatch
from gridkeeper.bot.layout import pending_leg
from gridkeeper.bot.lots import apply_fill
from gridkeeper.bot.state import (
    INVENTORY_SLOT_BASE,
    ZERO,
    GridState,
    Kind,
    Side,
    SlotState,
    TrackedOrder,
)
from gridkeeper.config.strategy import GridStrategyConfig, required_quantity
from gridkeeper.exchange.models import Fill

REJECT_BACKOFF_MS = 5000  # first wait after a refused order; doubles per refusal of the slot
REJECT_BACKOFF_MAX_MS = 300_000  # cap: a level refused forever costs one order per 5 minutes
SPOT_FEE_SLACK = Decimal("0.01")


@dataclass(frozen=True)
class MarketSpec:
    """What the strategy needs to know about the market it trades."""

    symbol: str
    base: str
    quote: str
    spot: bool
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    maker_fee: Decimal
    band_min: Decimal | None = None  # limit prices must be >= last * band_min (None: no band)
    band_max: Decimal | None = None  # ... and <= last * band_max


@dataclass(frozen=True)
class Place:
    order: TrackedOrder
    post_only: bool


@dataclass(frozen=True)
class Cancel:
    client_id: int
    order_id: str | None


Action = Place | Cancel


@dataclass(frozen=True)
class BotEvent:
    """Something worth a structured log line (order, fill, profit, boundary action...)."""

    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


class GridCore:
    """State, layout and the order bookkeeping shared by every grid."""

    def __init__(
        self, instance: str, config: GridStrategyConfig, market: MarketSpec, state: GridState
    ) -> None:
        self.instance = instance
        self.config = config
        self.market = market
        self.state = state
        self.events: list[BotEvent] = []
        self.grid = self._build(state.lower, state.upper, state.num)
        # The book's top, as last read (None: unknown, the last price stands in for it).
        self.bid: Decimal | None = None
        self.ask: Decimal | None = None
        # Sides the max_position gate holds back: logged when this changes, not every loop.
        self._held_back: set[str] = set()
        self._blocked: dict[str, tuple[Decimal, Decimal]] = {}
        self.exit_watch = ExitWatch()

    def _build(self, lower: Decimal, upper: Decimal, num: int) -> GridLayout:
        return build_grid(self.config, self.market, lower, upper, num)

    def emit(self, kind: str, message: str, **data: Any) -> None:
        self.events.append(BotEvent(kind, message, data))

    def drain_events(self) -> list[BotEvent]:
        events, self.events = self.events, []
        return events

    # ---- planning -----------------------------------------------------------------------
    def plan(self, now_ms: int) -> list[Action]:
        """Cancels for orders that must go, places for slots that want an order."""
        st = self.state
        actions: list[Action] = []
        wanted = {s.order for s in st.slots if s.order is not None}
        for order in st.orders.values():
            if order.status != "live" or order.cancel_sent:
                continue
            is_close = order.slot == CLOSE_SLOT
            stale = not is_close and order.client_id not in wanted
            kept_exit = st.keep_exits and not order.opening and not stale
            # A close resting at the band's edge (short of its level) goes back to its level
            # once the band and the book allow it there.
            stale = stale or (st.status == "running" and self._exit_can_return(order))
            if stale or (st.status != "running" and not is_close and not kept_exit):
                order.cancel_sent = True
                actions.append(Cancel(order.client_id, order.order_id))
        if st.status == "running":
            self._net_offsetting()
            self.cover_inventory()
            self._blocked = {}
            # Nearest first: when max_position binds, the likeliest fills are the ones kept.
            mark = st.last_price or ZERO
            for slot in sorted(st.slots, key=lambda s: abs(s.buy + s.sell - 2 * mark)):
                if slot.order is None and now_ms >= slot.retry_after_ms:
                    place = self._place_for(slot)
                    if place is not None:
                        actions.append(place)
            self._log_held_back()
        elif st.closing:
            actions.extend(self._plan_close())
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

    # ---- every unit held has its exit ---------------------------------------------------
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
        gap = abs(held) - self.closing_cover(kind)
        if gap < 0:
            # More closes than position (a close leg of ours filled beyond what the levels
            # expected): drop inventory closes, farthest first, never more than the excess.
            mark = st.last_price or ZERO
            extra = sorted(
                (s for s in st.slots if s.inventory and s.kind == kind),
                key=lambda s: -abs(s.sell - mark),
            )
            for slot in extra:
                left = slot.size(self.grid.quantity) - slot.leg_filled
                if left <= -gap:
                    st.slots.remove(slot)
                    gap += left
            return
        qty = floor_to(gap, market.step_size)
        if qty <= 0 or qty < market.min_quantity:
            return  # dust below one order: nothing can be sent for it
        self.add_inventory_close(kind, qty, at_book=at_book)

    def add_inventory_close(
        self, kind: Kind, qty: Decimal, *, at_book: bool, price: Decimal | None = None
    ) -> SlotState:
        """A one-off closing leg of `qty` for `kind` position: at `price` if given, else at the
        nearest grid level on the right side of the book (or at the book's top when `at_book`
        or when there is none)."""
        side: Side = "Ask" if kind == "long" else "Bid"
        if price is None:
            price = self.touch(side)
            levels = [
                s.sell if side == "Ask" else s.buy for s in self.state.slots if not s.inventory
            ]
            right = [p for p in levels if self.can_rest(side, p)]
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

    # ---- the book -----------------------------------------------------------------------
    def can_rest(self, side: str, price: Decimal) -> bool:
        """Would a post-only order at `price` rest? Decided against the book's top when known
        (a buy at or below the best bid, a sell at or above the best ask), else the last price."""
        last = self.state.last_price
        if side == "Bid":
            if self.bid is not None:
                return price <= self.bid
            if self.ask is not None:
                return price < self.ask
            return last is not None and price < last
        if self.ask is not None:
            return price >= self.ask
        if self.bid is not None:
            return price > self.bid
        return last is not None and price > last

    def touch(self, side: str) -> Decimal:
        """The best price on `side` of the book that rests post-only: the best bid for a buy,
        the best ask for a sell (one tick off the last price when the book is unknown)."""
        tick, last = self.market.tick_size, self.state.last_price or ZERO
        if side == "Bid":
            if self.bid is not None:
                return self.bid
            if self.ask is not None:
                return self.ask - tick
            return ceil_to(last, tick) - tick
        if self.ask is not None:
            return self.ask
        if self.bid is not None:
            return self.bid + tick
        return floor_to(last, tick) + tick

    def _through_market(self, side: str) -> tuple[Decimal, bool]:
        """(price, post_only) of a closing leg whose level the market has gone through."""
        cfg = self.config
        if cfg.through_market_close == "maker":
            return self.touch(side), True
        # A bounded taker: a limit at most max_slippage beyond the far touch; what the book
        # cannot fill at that price rests there as the exit.
        tick = self.market.tick_size
        if side == "Ask":
            ref = self.bid if self.bid is not None else self.state.last_price or ZERO
            return max(tick, ceil_to(ref * (1 - cfg.close_max_slippage), tick)), False
        ref = self.ask if self.ask is not None else self.state.last_price or ZERO
        return floor_to(ref * (1 + cfg.close_max_slippage), tick), False

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
        if opening and not self._gate_allows(side, remaining):
            return None
        if not opening and not self._inventory_allows(side, remaining):
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

    def outside_band(self, price: Decimal) -> bool:
        """True when the exchange's price band at the last price refuses a limit at `price`."""
        last, spec = self.state.last_price, self.market
        if last is None:
            return False
        if spec.band_min is not None and price < last * spec.band_min:
            return True
        return spec.band_max is not None and price > last * spec.band_max

    def _exit_can_return(self, order: TrackedOrder) -> bool:
        if order.opening or order.filled > 0 or order.price is None:
            return False
        slot = next((s for s in self.state.slots if s.order == order.client_id), None)
        if slot is None or slot.inventory:
            return False
        side, level, _ = pending_leg(slot)
        # Only a band clamp leaves a close short of its level (a sell below it, a buy above it);
        # a close the market went through rests beyond it and stays until it fills.
        short = order.price < level if side == "Ask" else order.price > level
        return short and not self.outside_band(level) and self.can_rest(side, level)

    def _band_edge(self, price: Decimal) -> Decimal:
        """The nearest price to `price` that the band at the last price accepts."""
        last, spec, tick = self.state.last_price or ZERO, self.market, self.market.tick_size
        if spec.band_max is not None and price > last * spec.band_max:
            return floor_to(last * spec.band_max, tick)
        if spec.band_min is not None and price < last * spec.band_min:
            return ceil_to(last * spec.band_min, tick)
        return price

    def _next_id(self, slot: int) -> int:
        gen = self.state.generations.get(slot, 0) + 1
        self.state.generations[slot] = gen
        tag = self.state.id_tag if self.state.id_tag is not None else instance_tag(self.instance)
        return make_client_id(tag, slot, gen)

    def _open_quantity(self, side: str, *, opening: bool) -> Decimal:
        return sum(
            (
                o.quantity - o.filled
                for o in self.state.orders.values()
                if o.side == side
                and o.opening == opening
                and o.slot != CLOSE_SLOT
                and o.status != "gone"
                # A close being cancelled (a range change moves it) frees its inventory for
                # the close that replaces it; reduce-only stops a late fill of both on perps.
                and not (o.cancel_sent and not opening)
            ),
            ZERO,
        )

    def _gate_allows(self, side: str, qty: Decimal) -> bool:
        limit = self.config.max_position
        if limit is None:
            return True
        pos = self.state.position
        exposure = pos if side == "Bid" else -pos
        worst = exposure + self._open_quantity(side, opening=True) + qty
        if worst > limit:
            self._blocked.setdefault(side, (worst, limit))
            return False
        return True

    def _inventory_allows(self, side: str, qty: Decimal) -> bool:
        pos = self.state.position
        held = pos if side == "Ask" else -pos
        # Spot buys pay their fee in base, so a bought unit arrives a hair short; the account's
        # own balance covers that sliver (SPOT_FEE_SLACK of a unit), a missing unit it does not.
        slack = qty * SPOT_FEE_SLACK if self.market.spot else ZERO
        return held - self._open_quantity(side, opening=False) >= qty - slack

    def _plan_close(self) -> list[Action]:
        st = self.state
        if any(o.slot != CLOSE_SLOT for o in st.orders.values()):
            return []  # cancels still in flight
        if any(o.slot == CLOSE_SLOT for o in st.orders.values()):
            return []
        if self._close_done():
            return []
        qty = floor_to(abs(self._close_quantity()), self.market.step_size)
        side: Side = "Ask" if self._close_quantity() > 0 else "Bid"
        order = TrackedOrder(
            client_id=self._next_id(CLOSE_SLOT),
            slot=CLOSE_SLOT,
            side=side,
            price=None,
            quantity=qty,
            reduce_only=not self.market.spot,
            opening=False,
        )
        st.orders[order.client_id] = order
        self.emit(
            "order_intent",
            f"close {side} {qty} at market",
            client_id=order.client_id,
            side=side,
            quantity=str(qty),
            reduce_only=order.reduce_only,
        )
        return [Place(order, post_only=False)]

    def _close_done(self) -> bool:
        """True (and the closing phase ended) once what is left is below one order."""
        qty = floor_to(abs(self._close_quantity()), self.market.step_size)
        if qty >= self.market.min_quantity and qty > 0:
            return False
        self.state.closing = False
        self.emit(
            "position_closed",
            "position closed",
            position=str(self.state.position),
            realized_profit=str(self.state.realized_profit),
        )
        self.on_close_done()
        return True

    def on_close_done(self) -> None:
        """After a close: GridStrategy re-lays the grid from the real position."""

    def _close_quantity(self) -> Decimal:
        st = self.state
        if self.market.spot:
            return max(ZERO, st.position - st.position0)
        return st.position

    # ---- outcomes -----------------------------------------------------------------------
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
        return int(min(REJECT_BACKOFF_MAX_MS, REJECT_BACKOFF_MS * 2 ** (slot.rejects - 1)))

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
        self._finalize_if_done(order)

    def _finalize_if_done(self, order: TrackedOrder) -> None:
        done = order.filled >= order.quantity or (
            order.final_executed is not None and order.filled >= order.final_executed
        )
        if not done:
            return
        self.state.orders.pop(order.client_id, None)
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
            self._advance(slot, order, price, qty, fee_quote)
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
        self, slot: SlotState, order: TrackedOrder, price: Decimal, qty: Decimal, fee: Decimal
    ) -> None:
        if order.opening:
            paid = (slot.open_price or ZERO) * slot.leg_filled + price * qty
            slot.open_price = paid / (slot.leg_filled + qty)
            slot.open_fee += fee
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
        slot.leg_filled = ZERO
        slot.order = None


def build_grid(
    config: GridStrategyConfig, market: MarketSpec, lower: Decimal, upper: Decimal, num: int
) -> GridLayout:
    return build_layout(
        lower=lower,
        upper=upper,
        num=num,
        mode=config.grid_mode,
        quantity=required_quantity(config),
        tick_size=market.tick_size,
        step_size=market.step_size,
        min_quantity=market.min_quantity,
        maker_fee=market.maker_fee,
    )
