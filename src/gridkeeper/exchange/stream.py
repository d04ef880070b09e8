"""Backpack's private order-update stream with reconnect, resubscribe and a backfill hook.

Usage::

    stream = OrderUpdateStream(ws_url, key, secret, symbol="SOL_USDC", on_gap=backfill)
    async for update in stream:
        ...

Updates sent while the connection was down are lost by the exchange; after every reconnect (once
the new subscription is sent) `on_gap` runs so the caller re-reads open orders and fills over
REST. Updates may then arrive twice (from the backfill and the stream): consumers key on order
id + trade id. A refused signature raises AuthError instead of reconnecting forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection, connect

from gridkeeper.backoff import Backoff
from gridkeeper.exchange import signing
from gridkeeper.exchange.errors import AuthError
from gridkeeper.exchange.models import OrderUpdate

log = logging.getLogger(__name__)

STREAM = "account.orderUpdate"


class OrderUpdateStream:
    def __init__(
        self,
        ws_url: str,
        api_key: str | None,
        api_secret: str,
        *,
        symbol: str | None = None,
        on_gap: Callable[[], Awaitable[None]] | None = None,
        window_ms: int = signing.DEFAULT_WINDOW_MS,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        open_timeout_s: float = 10.0,
    ) -> None:
        self.ws_url = ws_url
        self.api_key = api_key or signing.public_key_of(api_secret)
        self._secret = api_secret
        self.stream = f"{STREAM}.{symbol}" if symbol else STREAM
        self.on_gap = on_gap
        self.window_ms = window_ms
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.open_timeout_s = open_timeout_s
        self.subscribed = asyncio.Event()  # set once the exchange acknowledged a subscription
        self.connects = 0
        self._ws: ClientConnection | None = None
        self._closed = False

    def subscribe_message(self) -> dict[str, Any]:
        ts = time.time_ns() // 1_000_000
        message = signing.signing_string("subscribe", None, ts, self.window_ms)
        signature = signing.sign(message, self._secret)
        return {
            "method": "SUBSCRIBE",
            "params": [self.stream],
            "signature": [self.api_key, signature, str(ts), str(self.window_ms)],
        }

    def __aiter__(self) -> AsyncIterator[OrderUpdate]:
        return self._run()

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()

    async def _run(self) -> AsyncIterator[OrderUpdate]:
        retry = Backoff(self.backoff_initial_s, self.backoff_max_s, jitter=0.2)
        while not self._closed:
            try:
                async with connect(
                    self.ws_url, open_timeout=self.open_timeout_s, max_size=2**22
                ) as ws:
                    self._ws = ws
                    self.subscribed.clear()
                    await ws.send(orjson.dumps(self.subscribe_message()).decode())
                    self.connects += 1
                    if self.connects > 1 and self.on_gap is not None:
                        await self.on_gap()
                    retry.reset()
                    async for raw in ws:
                        update = self._handle(raw)
                        if update is not None:
                            yield update
            except (OSError, websockets.exceptions.WebSocketException, TimeoutError) as exc:
                log.info("order stream disconnected: %r", exc)
            finally:
                self._ws = None
                self.subscribed.clear()  # set again by the next acknowledgement
            if self._closed:
                return
            await asyncio.sleep(retry.next())

    def _handle(self, raw: str | bytes) -> OrderUpdate | None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(message, dict):
            return None
        if "error" in message:
            err = message["error"] or {}
            raise AuthError(
                str(err.get("code", "SUBSCRIBE")), str(err.get("message", "subscribe refused"))
            )
        if "result" in message:
            self.subscribed.set()
            return None
        stream = message.get("stream")
        if isinstance(stream, str) and stream.startswith(STREAM):
            self.subscribed.set()
            return OrderUpdate.from_api(message["data"])
        return None
