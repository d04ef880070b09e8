"""Sending the strategy's actions to the exchange, and reporting each outcome back to it.

The caller has already saved every intent. An order POST is never retried blindly: a rejection
frees the slot (the strategy decides when to try again, with a new clientId); an unknown outcome
(timeout, dropped connection, 5xx) is resolved by looking the order up by clientId first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Protocol

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
    ) -> None:
        self.client = client
        self.strategy = strategy
        self.save = save
        self.sleep = sleep
        self.in_flight: set[int] = set()
        self.sent = 0

    @property
    def symbol(self) -> str:
        return self.strategy.market.symbol

    async def run(self, actions: list[Action]) -> None:
        """Save intents, then cancel and place; every outcome goes back to the strategy."""
        if not actions:
            return
        places = [a for a in actions if isinstance(a, Place)]
        self.save([p.order for p in places])  # the intent is durable before anything is sent
        for action in actions:
            if isinstance(action, Cancel):
                await self._cancel(action)
        for place in places:
            await self._place(place)
        self.save([])

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

    async def _place(self, place: Place) -> None:
        cid = place.order.client_id
        if cid not in self.strategy.state.orders:
            return  # cancelled before it went out (pause during a batch)
        self.in_flight.add(cid)
        try:
            self.sent += 1
            result = await self.client.execute_order(self._request(place))
        except AuthError as exc:
            raise BotFatal(f"the exchange refused our keys: {exc}") from exc
        except RejectedError as exc:
            self.strategy.on_rejected(cid, exc.code, exc.message, now_ms())
            return
        except UnknownOutcomeError as exc:
            self.strategy.emit(
                "order_unknown", f"outcome unknown ({exc}); looking it up", client_id=cid
            )
            await self._resolve_unknown(cid)
            return
        except RetryableError as exc:
            # Refused before the matching engine saw it (429, maintenance): nothing exists.
            self.strategy.on_rejected(cid, exc.code, exc.message, now_ms())
            return
        finally:
            self.in_flight.discard(cid)
        self.strategy.on_placed(cid, result.id, result.status, result.executed_quantity)

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
