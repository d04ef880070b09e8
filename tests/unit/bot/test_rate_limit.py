"""Defect 10: a 429 inside a batch stops the batch, honours Retry-After and resumes in order.

The exchange is a real HTTP server on 127.0.0.1 (http.server in a thread) that answers the Nth
order POST with 429 + Retry-After; the bot's own BackpackClient talks to it over a socket.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gridkeeper.bot.execution import Executor
from gridkeeper.bot.reconcile import reconcile
from gridkeeper.bot.state import TrackedOrder
from gridkeeper.bot.strategy import GridStrategy, Place
from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.signing import keygen

from .sim import SPOT, config


class RateLimitedExchange(ThreadingHTTPServer):
    """Accepts order POSTs, except the `limit_at`-th, answered 429 with Retry-After."""

    def __init__(self, limit_at: int, retry_after: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.limit_at = limit_at
        self.retry_after = retry_after
        self.posts: list[tuple[int, int]] = []  # (clientId, HTTP status answered)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: RateLimitedExchange

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            limited = len(self.server.posts) + 1 == self.server.limit_at
            self.server.posts.append((body["clientId"], 429 if limited else 200))
            number = len(self.server.posts)
        if limited:
            payload = {"code": "TOO_MANY_REQUESTS", "message": "rate limited"}
            self._answer(429, payload, {"Retry-After": self.server.retry_after})
            return
        order = {
            "id": f"o{number}",
            "clientId": body["clientId"],
            "symbol": body["symbol"],
            "side": body["side"],
            "orderType": body["orderType"],
            "price": body.get("price"),
            "quantity": body["quantity"],
            "executedQuantity": "0",
            "executedQuoteQuantity": "0",
            "status": "New",
            "createdAt": 0,
        }
        self._answer(200, order, {})

    def _answer(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def exchange() -> Iterator[RateLimitedExchange]:
    server = RateLimitedExchange(limit_at=4, retry_after="7")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_429_in_a_batch_stops_waits_retry_after_and_resumes_in_order(
    exchange: RateLimitedExchange,
) -> None:
    # A spot grid at 100.5 with inventory: 10 slots want an order (buys below, sells above).
    strategy = GridStrategy.fresh("rl", config(), SPOT, D("100.5"), inventory=D(10))
    clock = Clock()
    _, secret = keygen()
    saved: list[int] = []

    def save(intents: list[TrackedOrder]) -> None:
        saved.extend(o.client_id for o in intents)

    async def scenario() -> None:
        async with BackpackClient(exchange.url, None, secret, max_retries=0) as client:
            executor = Executor(client, strategy, save, clock=clock)
            actions = strategy.plan(0)
            planned = [a.order.client_id for a in actions if isinstance(a, Place)]
            assert len(planned) == 10

            await executor.run(actions)
            # Three accepted, the fourth refused with 429: nothing after it was sent.
            assert [cid for cid, _ in exchange.posts] == planned[:4]
            assert [code for _, code in exchange.posts] == [200, 200, 200, 429]
            # The refused one and the rest are still intents, each still owned by its slot.
            for cid in planned[3:]:
                assert strategy.state.orders[cid].status == "intent"
                assert any(s.order == cid for s in strategy.state.slots)
            events = [e.kind for e in strategy.drain_events()]
            assert "rate_limited" in events and "order_rejected" not in events

            # During Retry-After (7 s) nothing is sent, and a reconcile leaves the held intents.
            clock.now += 6.5
            await executor.run(strategy.plan(0))
            assert len(exchange.posts) == 4
            reconcile(
                strategy,
                open_orders=[],
                fills=[],
                issued=set(saved),
                seen=set(),
                in_flight=executor.busy,
            )
            assert all(cid in strategy.state.orders for cid in planned[3:])

            # After it: the held orders go out in their planned order, with their own ids.
            clock.now += 1.0
            await executor.run(strategy.plan(0))
            assert [cid for cid, _ in exchange.posts[4:]] == planned[3:]
            assert all(strategy.state.orders[cid].status == "live" for cid in planned)
            assert not executor.deferred

        # No clientId was ever issued twice.
        assert len(saved) == len(set(saved)) == 10

    asyncio.run(scenario())


def test_a_close_met_by_429_is_dropped_and_planned_again_from_a_fresh_figure() -> None:
    """A position close is sized by the exchange's figure read just before it: held back by a
    429 it would go out later on an old figure, so it is withdrawn (never sent, its clientId
    not reused) and planned again, with a new figure, once the hold has passed."""
    server = RateLimitedExchange(limit_at=1, retry_after="7")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    strategy = GridStrategy.fresh("rl", config(), SPOT, D("100.5"), inventory=D(10))
    strategy.close_reads_exchange = True
    st = strategy.state
    st.position += D(3)  # as if bought 3 beyond the starting inventory
    assert strategy.stop("stop requested", flatten=True)
    clock = Clock()
    _, secret = keygen()

    async def scenario() -> None:
        async with BackpackClient(server.url, None, secret, max_retries=0) as client:
            executor = Executor(client, strategy, lambda intents: None, clock=clock)
            assert strategy.close_due(0)
            first = strategy.plan_close(0, D(3))
            await executor.run(first)
            assert [code for _, code in server.posts] == [429]
            assert executor.holding and not executor.deferred and not st.orders
            assert st.closing
            clock.now += 8
            assert strategy.close_due(0)
            second = strategy.plan_close(0, D(2))  # the exchange's figure has changed meanwhile
            await executor.run(second)
            sent = [cid for cid, _ in server.posts]
            assert sent == [first[0].order.client_id, second[0].order.client_id]
            assert sent[0] != sent[1]
            assert isinstance(second[0], Place) and second[0].order.quantity == 2

    try:
        asyncio.run(scenario())
    finally:
        server.shutdown()
        server.server_close()
