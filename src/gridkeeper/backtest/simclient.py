"""The paper exchange's Engine behind the bot's order client interface, in simulated time.

`SimClient` implements `gridkeeper.bot.execution.OrderClient` so the bot's own `Executor` sends
the strategy's actions: the same code path as live, minus HTTP. Orders and fills go through the
paper exchange's serializers and the client's parsers (`order_json` -> `Order.from_api`), so the
strategy sees exactly the values the live bot would read. Its coroutines never suspend:
`run_sync` drives them to completion without an event loop.
"""

from __future__ import annotations

from collections.abc import Coroutine
from decimal import Decimal
from typing import Any, TypeVar

from gridkeeper.exchange.errors import RejectedError
from gridkeeper.exchange.models import Fill, Order, OrderRequest
from gridkeeper.exchange.paper import payloads
from gridkeeper.exchange.paper.book import BookFill, BookOrder, EngineReject
from gridkeeper.exchange.paper.engine import Engine
from gridkeeper.exchange.paper.serialize import fill_json, order_json

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (every await reaches SimClient) to its result."""
    try:
        coro.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coro.close()
    raise RuntimeError("a simulated call suspended: only SimClient may be awaited")


def to_order(order: BookOrder, *, history: bool = False) -> Order:
    return Order.from_api(order_json(order, history=history))


def to_fill(fill: BookFill) -> Fill:
    return Fill.from_api(fill_json(fill))


class SimClient:
    """One account on an Engine; `now_ms` is set by the driver before each step."""

    def __init__(self, engine: Engine, account: str) -> None:
        self.engine = engine
        self.account = account
        self.now_ms = 0
        self.fills: list[BookFill] = []  # ours, not yet read by the driver
        self.closed: dict[str, BookOrder] = {}  # our closed orders (the order history)
        self.expired = False  # an order of ours closed without our asking (reconcile needed)

    def drain(self) -> None:
        """Collect what the engine's last operations did to our account."""
        changes = self.engine.drain()
        account = self.account
        for fill in changes.fills:
            if fill.account == account:
                self.fills.append(fill)
        for order in changes.orders.values():
            if order.account == account and not order.is_open:
                self.closed[order.id] = order
                if order.status == "Expired":
                    self.expired = True

    def _reject(self, exc: EngineReject) -> RejectedError:
        return RejectedError(exc.code, exc.message, exc.status)

    async def execute_order(self, req: OrderRequest) -> Order:
        engine = self.engine
        spec = engine.markets.get(req.symbol)
        try:
            inp = payloads.order_input(req.to_api(), spec, engine.prices.get(req.symbol))
            placed = engine.place(self.account, inp, self.now_ms)
        except EngineReject as exc:
            self.drain()
            raise self._reject(exc) from exc
        self.drain()
        return to_order(placed)

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_id: int | None = None
    ) -> Order:
        try:
            done = self.engine.cancel(self.account, symbol, order_id, client_id, self.now_ms)
        except EngineReject as exc:
            self.drain()
            raise self._reject(exc) from exc
        self.drain()
        return to_order(done)

    async def get_open_order(
        self, symbol: str, *, order_id: str | None = None, client_id: int | None = None
    ) -> Order | None:
        found = self.engine.find_open(self.account, symbol, order_id, client_id)
        return None if found is None else to_order(found)

    async def get_order_history(
        self,
        symbol: str | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
        order_id: str | None = None,
    ) -> list[Order]:
        return [to_order(o, history=True) for o in self.history(symbol, order_id)][
            offset : offset + limit
        ]

    def history(self, symbol: str | None = None, order_id: str | None = None) -> list[BookOrder]:
        found = [
            o
            for o in self.closed.values()
            if (symbol is None or o.symbol == symbol) and (order_id is None or o.id == order_id)
        ]
        return sorted(found, key=lambda o: -int(o.id))

    async def find_order(self, symbol: str, *, client_id: int) -> Order | None:
        found = await self.get_open_order(symbol, client_id=client_id)
        if found is not None:
            return found
        for order in self.history(symbol):
            if order.client_id == client_id:
                return to_order(order, history=True)
        return None

    def open_orders(self, symbol: str) -> list[Order]:
        return [to_order(o) for o in self.engine.open_orders(self.account, symbol)]

    def base_available(self, asset: str) -> Decimal:
        return self.engine.balance(self.account, asset).available
