"""Sending the strategy's actions to the exchange, and reporting each outcome back to it.

The caller has already saved every intent. An order POST is never retried blindly: a rejection
frees the slot (the strategy decides when to try again, with a new clientId); an unknown outcome
(timeout, dropped connection, 5xx) is resolved by looking the order up by clientId first.

A POST refused before the matching engine saw it (429, maintenance, connection refused) stops
the batch: that order and every one after it stay intents, with their clientIds, and are sent
in the same order once `Retry-After` has passed. Nothing else is sent in between.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Protocol

from gridkeeper.bot.client_ids import CLOSE_SLOT
from gridkeeper.bot.errors import BotFatal
from gridkeeper.bot.state import TrackedOrder
from gridkeeper.bot.strategy import Action, Cancel, GridStrategy, Place
from gridkeeper.exchange.errors import (
    AuthError,
    ExchangeError,
    RejectedError,
    RetryableError,
    UnknownOutcomeError,
)
from gridkeeper.exchange.models import Order, OrderRequest

LOOKUP_ATTEMPTS = 5
LOOKUP_DELAY_S = 0.4
HOLD_DEFAULT_S = 5.0  # a not-executed refusal without Retry-After (maintenance, connect)
HOLD_MAX_S = 300.0  # a Retry-After beyond this is a misbehaving proxy, not a plan


class OrderClient(Protocol):
    """The part of BackpackClient the executor uses."""

    async def execute_order(self, req: OrderRequest) -> Order: ...

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_id: int | None = None
    ) -> Order: ...

    async def get_open_order(
        self, symbol: str, *, order_id: str | None = None, client_id: int | None = None
    ) -> Order | None: ...

    async def get_order_history(
        self,
        symbol: str | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
        order_id: str | None = None,
    ) -> list[Order]: ...

    async def find_order(self, symbol: str, *, client_id: int) -> Order | None: ...


def now_ms() -> int:
    return int(time.time() * 1000)


class Executor:
    def __init__(
        self,
        client: OrderClient,
        strategy: GridStrategy,
        save: Callable[[list[TrackedOrder]], None],
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.strategy = strategy
        self.save = save
        self.sleep = sleep
        self.clock = clock
        self.in_flight: set[int] = set()
        self.sent = 0
        # Places held back by a rate limit, in the order they were planned, and when sending
        # may start again (clock seconds).
        self.deferred: list[Place] = []
        self.hold_until = 0.0

    @property
    def busy(self) -> set[int]:
        """ClientIds the reconcile must leave alone: POSTs in flight and intents held back."""
        return self.in_flight | {p.order.client_id for p in self.deferred}

    @property
    def holding(self) -> bool:
        return self.clock() < self.hold_until

    @property
    def symbol(self) -> str:
        return self.strategy.market.symbol

    async def run(self, actions: list[Action]) -> None:
        """Save intents, then cancel and place; every outcome goes back to the strategy.

        Places held back by an earlier rate limit go first, in their original order, once the
        hold has passed; while it lasts nothing is sent and new places join the queue."""
        if not actions and not self.deferred:
            return
        places = [a for a in actions if isinstance(a, Place)]
        self.save([p.order for p in places])  # the intent is durable before anything is sent
        queue = [*self.deferred, *places]
        self.deferred = []
        if self.holding:
            self.deferred = self._still_wanted(queue)
            for action in actions:
                if isinstance(action, Cancel) and action.client_id in self.strategy.state.orders:
                    # Not sent: the next plan() asks for it again once the hold is over.
                    self.strategy.state.orders[action.client_id].cancel_sent = False
            self.save([])
            return
        for action in actions:
            if isinstance(action, Cancel):
                await self._cancel(action)
        for index, place in enumerate(queue):
            if not self._wanted(place):
                self._withdraw(place)
                continue
            if not await self._place(place):
                self.deferred = self._still_wanted(queue[index:])
                break
        self.save([])

    def _wanted(self, place: Place) -> bool:
        """A held-back intent is still sent only if its slot still wants it (no pause since)."""
        state = self.strategy.state
        order = state.orders.get(place.order.client_id)
        if order is None or order.status != "intent":
            return False
        if order.slot == CLOSE_SLOT:
            return state.closing
        return state.status == "running" and any(s.order == order.client_id for s in state.slots)

    def _still_wanted(self, queue: list[Place]) -> list[Place]:
        kept = []
        for place in queue:
            # A position close is sized by the exchange's figure read just before it: held back
            # it would go out later on an old figure, so it is dropped (never sent: its clientId
            # is burnt) and planned again from a fresh read once the hold has passed.
            if place.order.slot != CLOSE_SLOT and self._wanted(place):
                kept.append(place)
            else:
                self._withdraw(place)
        return kept

    def _withdraw(self, place: Place) -> None:
        """Forget an intent that was never sent (its clientId is burnt, never reused)."""
        cid = place.order.client_id
        state = self.strategy.state
        order = state.orders.get(cid)
        if order is None or order.status != "intent":
            return
        del state.orders[cid]
        for slot in state.slots:
            if slot.order == cid:
                slot.order = None
        self.strategy.emit("order_withdrawn", "held-back order no longer wanted", client_id=cid)

    async def _cancel(self, action: Cancel) -> None:
        order = self.strategy.state.orders.get(action.client_id)
        try:
            if action.order_id is not None:
                done = await self.client.cancel_order(self.symbol, order_id=action.order_id)
            else:
                done = await self.client.cancel_order(self.symbol, client_id=action.client_id)
        except AuthError as exc:
            raise BotFatal(f"the exchange refused our keys: {exc}") from exc
        except RejectedError:
            # Usually "not found": it filled or was cancelled already. Ask before concluding.
            try:
                still = await self.client.get_open_order(self.symbol, client_id=action.client_id)
            except ExchangeError:
                still = None
                if order is not None:
                    order.cancel_sent = False
                return
            executed = await self._executed(action.client_id) if still is None else None
            if executed is not None:
                self.strategy.on_gone(action.client_id, executed)
            elif order is not None:
                # Still open, or closed without a trace in the history yet (history lags): the
                # next reconcile decides; freeing the slot now could double a fill.
                order.cancel_sent = False
            return
        except ExchangeError:
            if order is not None:
                order.cancel_sent = False  # try again next round
            return
        self.strategy.emit(
            "order_cancelled",
            f"cancelled {done.id}",
            client_id=action.client_id,
            order_id=done.id,
            executed=str(done.executed_quantity),
        )
        self.strategy.on_gone(action.client_id, done.executed_quantity)

    async def _executed(self, client_id: int) -> Decimal | None:
        """How much a closed order executed, from the history; None when it is not there."""
        order = self.strategy.state.orders.get(client_id)
        known = order.filled if order is not None else Decimal(0)
        try:
            if order is not None and order.order_id:
                history = await self.client.get_order_history(self.symbol, order_id=order.order_id)
            else:
                history = await self.client.get_order_history(self.symbol, limit=200)
        except ExchangeError:
            return None
        for item in history:
            if item.client_id == client_id:
                return max(known, item.executed_quantity)
        return None

    def _request(self, place: Place) -> OrderRequest:
        order = place.order
        return OrderRequest(
            symbol=self.symbol,
            side=order.side,
            order_type="Limit" if order.price is not None else "Market",
            quantity=order.quantity,
            price=order.price,
            client_id=order.client_id,
            post_only=place.post_only and order.price is not None,
            reduce_only=order.reduce_only,
        )

    async def _place(self, place: Place) -> bool:
        """Send one order; False when the exchange asks us to stop sending for a while."""
        cid = place.order.client_id
        if cid not in self.strategy.state.orders:
            return True  # cancelled before it went out (pause during a batch)
        self.in_flight.add(cid)
        try:
            self.sent += 1
            result = await self.client.execute_order(self._request(place))
        except AuthError as exc:
            raise BotFatal(f"the exchange refused our keys: {exc}") from exc
        except RejectedError as exc:
            self.strategy.on_rejected(cid, exc.code, exc.message, now_ms())
            return True
        except UnknownOutcomeError as exc:
            self.strategy.emit(
                "order_unknown", f"outcome unknown ({exc}); looking it up", client_id=cid
            )
            await self._resolve_unknown(cid)
            return True
        except RetryableError as exc:
            # Refused before the matching engine saw it (429, maintenance, no connection):
            # nothing exists under this clientId, so the same intent is sent again later.
            self._hold(exc)
            return False
        finally:
            self.in_flight.discard(cid)
        self.strategy.on_placed(cid, result.id, result.status, result.executed_quantity)
        return True

    def _hold(self, exc: RetryableError) -> None:
        wait = exc.retry_after_s if exc.retry_after_s is not None else HOLD_DEFAULT_S
        wait = min(HOLD_MAX_S, max(0.0, wait))
        self.hold_until = self.clock() + wait
        self.strategy.emit(
            "rate_limited",
            f"{exc.code}: sending paused for {wait:g}s; held orders go out in order after",
            code=exc.code,
            retry_after_s=wait,
        )

    async def _resolve_unknown(self, cid: int) -> None:
        """Find the order by clientId; only when it is nowhere is the slot freed."""
        for _ in range(LOOKUP_ATTEMPTS):
            try:
                found = await self.client.find_order(self.symbol, client_id=cid)
            except ExchangeError:
                found = None
            if found is not None:
                self.strategy.on_placed(cid, found.id, found.status, found.executed_quantity)
                return
            await self.sleep(LOOKUP_DELAY_S)
        # Still unknown: keep the intent. The next reconciliation adopts it if it shows up,
        # or frees the slot; a late copy would carry our id and be cancelled as a duplicate.
        self.strategy.emit("order_unresolved", "order not found after lookups", client_id=cid)
