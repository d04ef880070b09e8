"""The executor: intents saved before sending; an unknown outcome is looked up, never resent."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from gridkeeper.bot.execution import Executor
from gridkeeper.bot.reconcile import reconcile
from gridkeeper.bot.state import TrackedOrder
from gridkeeper.bot.strategy import GridStrategy
from gridkeeper.exchange.errors import RejectedError, UnknownOutcomeError
from gridkeeper.exchange.models import Order, OrderRequest

from .sim import PERP, config


class FlakyExchange:
    """An exchange double: every POST times out; `accept` decides if the order still exists."""

    def __init__(self, *, accept: bool) -> None:
        self.accept = accept
        self.posts: list[OrderRequest] = []
        self.orders: dict[int, Order] = {}
        self.saved_before_post: list[bool] = []
        self.saved: set[int] = set()

    async def execute_order(self, req: OrderRequest) -> Order:
        assert req.client_id is not None
        self.saved_before_post.append(req.client_id in self.saved)
        self.posts.append(req)
        if self.accept:
            self.orders[req.client_id] = Order(
                id=f"o{len(self.posts)}",
                client_id=req.client_id,
                symbol=req.symbol,
                side=req.side,
                order_type="Limit",
                price=req.price,
                quantity=req.quantity,
                executed_quantity=D(0),
                executed_quote_quantity=D(0),
                status="New",
                reduce_only=req.reduce_only,
                post_only=req.post_only,
                created_at_ms=0,
            )
        raise UnknownOutcomeError("TIMEOUT", "read timed out")

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_id: int | None = None
    ) -> Order:
        raise RejectedError("RESOURCE_NOT_FOUND", "no such order", 404)

    async def get_open_order(
        self, symbol: str, *, order_id: str | None = None, client_id: int | None = None
    ) -> Order | None:
        return self.orders.get(client_id or -1)

    async def get_order_history(
        self,
        symbol: str | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
        order_id: str | None = None,
    ) -> list[Order]:
        return []

    async def find_order(self, symbol: str, *, client_id: int) -> Order | None:
        return self.orders.get(client_id)


def setup(accept: bool) -> tuple[GridStrategy, FlakyExchange, Executor]:
    strategy = GridStrategy.fresh("bot-x", config(), PERP, D("101.5"))
    exchange = FlakyExchange(accept=accept)

    def save(intents: list[TrackedOrder]) -> None:
        exchange.saved.update(o.client_id for o in intents)

    async def no_sleep(_: float) -> None:
        return None

    return strategy, exchange, Executor(exchange, strategy, save, sleep=no_sleep)


def test_timed_out_post_that_landed_is_adopted_not_resent() -> None:
    """Every POST times out but the orders exist: each is found by clientId and adopted."""
    strategy, exchange, executor = setup(accept=True)
    asyncio.run(executor.run(strategy.plan(0)))
    assert all(exchange.saved_before_post) and len(exchange.posts) == 10
    assert all(o.status == "live" and o.order_id for o in strategy.state.orders.values())
    asyncio.run(executor.run(strategy.plan(0)))
    assert len(exchange.posts) == 10  # nothing sent twice


def test_timed_out_post_that_never_landed_is_retried_with_a_new_id() -> None:
    """Not found after the lookups: the intent stays until reconciliation frees it; the retry
    carries a new clientId so a late original could never be mistaken for it."""
    strategy, exchange, executor = setup(accept=False)
    asyncio.run(executor.run(strategy.plan(0)))
    first = {r.client_id for r in exchange.posts}
    assert strategy.plan(0) == []  # intents still held: no blind resend
    reconcile(strategy, open_orders=[], fills=[], issued=exchange.saved, seen=set())
    exchange.accept = True
    asyncio.run(executor.run(strategy.plan(0)))
    second = {r.client_id for r in exchange.posts} - first
    assert len(second) == 10 and not (second & first)
