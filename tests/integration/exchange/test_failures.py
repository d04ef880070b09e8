"""Failure handling over real sockets: POST timeout then clientId lookup, and 429 backoff."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal as D

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.errors import RetryableError, UnknownOutcomeError
from gridkeeper.exchange.models import OrderRequest
from tests.support import wait_for

from .conftest import PUBLIC, SECRET, Paper

pytestmark = pytest.mark.integration


class DelayingProxy:
    """A TCP proxy that forwards requests at once but holds every response for `delay_s`."""

    def __init__(self, upstream_port: int, delay_s: float) -> None:
        self.upstream_port = upstream_port
        self.delay_s = delay_s
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> DelayingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            await self._relay(reader, writer, up_reader, up_writer)
        finally:
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(Exception):
                    await w.wait_closed()

    async def _relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    if delay:
                        await asyncio.sleep(delay)
                    dst.write(data)
                    await dst.drain()

        await asyncio.gather(pipe(reader, up_writer, 0), pipe(up_reader, writer, self.delay_s))


def test_post_timeout_is_unknown_outcome_and_lookup_finds_the_order(paper: Paper) -> None:
    """An order whose answer never comes raises UnknownOutcomeError, is not resent, and exists."""

    async def go() -> None:
        async with DelayingProxy(paper.server.port, delay_s=3.0) as proxy:
            slow = BackpackClient(f"http://127.0.0.1:{proxy.port}", PUBLIC, SECRET, timeout_s=0.5)
            req = OrderRequest("SOL_USDC", "Bid", "Limit", D("1"), D("145"), client_id=77)
            with pytest.raises(UnknownOutcomeError):
                await slow.execute_order(req)
            await slow.aclose()
        async with BackpackClient(paper.base_url, PUBLIC, SECRET) as client:
            found = await client.find_order("SOL_USDC", client_id=77)
            assert found is not None and found.status == "New" and found.price == D("145")
            open_77 = [o for o in await client.get_open_orders("SOL_USDC") if o.client_id == 77]
            assert len(open_77) == 1  # sent once, never retried blindly

    asyncio.run(go())


@contextlib.contextmanager
def serve(app: Starlette) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    wait_for(lambda: server.started, 10, "the 429 server to start")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_429_backoff_honours_retry_after_and_orders_are_not_retried() -> None:
    """Reads wait Retry-After and retry; an order POST gets RetryableError and is sent once."""
    seen: list[tuple[str, float]] = []

    async def markets(request: Request) -> Response:
        seen.append(("markets", time.monotonic()))
        if len([s for s in seen if s[0] == "markets"]) <= 2:
            return JSONResponse(
                {"code": "TOO_MANY_REQUESTS", "message": "slow down"},
                429,
                headers={"Retry-After": "0.3"},
            )
        return JSONResponse([])

    async def order(request: Request) -> Response:
        seen.append(("order", time.monotonic()))
        return JSONResponse(
            {"code": "TOO_MANY_REQUESTS", "message": "x"}, 429, headers={"Retry-After": "7"}
        )

    app = Starlette(
        routes=[Route("/api/v1/markets", markets), Route("/api/v1/order", order, methods=["POST"])]
    )
    with serve(app) as url:

        async def go() -> None:
            async with BackpackClient(url, None, None, max_retries=3) as public:
                assert await public.get_markets() == []
            async with BackpackClient(url, PUBLIC, SECRET) as client:
                with pytest.raises(RetryableError) as info:
                    await client.execute_order(OrderRequest("SOL_USDC", "Bid", "Market", D("1")))
                assert info.value.retry_after_s == 7.0

        asyncio.run(go())
    times = [t for kind, t in seen if kind == "markets"]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.3 and times[2] - times[1] >= 0.3
    assert [kind for kind, _ in seen].count("order") == 1
