"""The websocket at `/ws`: public market streams, and signed private account streams.

Public (no signature): `bookTicker.<s>`, `depth.<s>`, `trade.<s>`, `ticker.<s>`,
`kline.<interval>.<s>`, `markPrice.<s>`. Private (SUBSCRIBE signed with instruction `subscribe`):
`account.orderUpdate[.<s>]`, `account.positionUpdate[.<s>]`. An unknown stream is refused as a
whole with error 4006, like an unsigned private one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from gridkeeper.exchange.paper.auth import authenticate
from gridkeeper.exchange.paper.engine import EngineReject
from gridkeeper.exchange.paper.hub import Subscriber
from gridkeeper.exchange.paper.marketdata import INTERVALS_S
from gridkeeper.exchange.paper.service import PaperExchange

PUBLIC_KINDS = ("bookTicker", "depth", "trade", "ticker", "markPrice")
PRIVATE_KINDS = ("account.orderUpdate", "account.positionUpdate")


def classify(stream: str, markets: set[str]) -> str | None:
    """ "public", "private", or None for a stream this exchange does not serve."""
    for kind in PRIVATE_KINDS:
        if stream == kind or (stream.startswith(kind + ".") and stream[len(kind) + 1 :] in markets):
            return "private"
    kind, _, rest = stream.partition(".")
    if kind in PUBLIC_KINDS and rest in markets:
        return "public"
    if kind == "kline":
        interval, _, symbol = rest.partition(".")
        if interval in INTERVALS_S and symbol in markets:
            return "public"
    return None


def order_stream_endpoint(ex: PaperExchange) -> Callable[[WebSocket], Awaitable[None]]:
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        sub: Subscriber | None = None
        sender: asyncio.Task[None] | None = None
        try:
            while True:
                message = orjson.loads(await _receive(websocket))
                reply, sub = _subscribe(ex, message, sub)
                if reply is not None:
                    await websocket.send_bytes(orjson.dumps(reply))
                if sub is not None and sender is None:
                    sender = asyncio.create_task(_send_loop(websocket, sub))
        except (WebSocketDisconnect, orjson.JSONDecodeError, RuntimeError):
            pass
        finally:
            if sub is not None:
                ex.hub.subscribers.discard(sub)
            if sender is not None:
                sender.cancel()

    return endpoint


async def _receive(websocket: WebSocket) -> str | bytes:
    """The next client message, sent as a text or a binary frame."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    data: str | bytes | None = message.get("text") or message.get("bytes")
    if data is None:
        raise orjson.JSONDecodeError("empty frame", "", 0)
    return data


async def _send_loop(websocket: WebSocket, sub: Subscriber) -> None:
    while True:
        item = await sub.queue.get()
        if item is None:  # dropped by the hub: close so the client reconnects and backfills
            with contextlib.suppress(Exception):
                await websocket.close(code=1001)
            return
        await websocket.send_bytes(orjson.dumps(item))


def _subscribe(
    ex: PaperExchange, message: Any, sub: Subscriber | None
) -> tuple[dict[str, Any] | None, Subscriber | None]:
    if not isinstance(message, dict):
        return {"error": {"code": 4000, "message": "Invalid message"}}, sub
    method = message.get("method")
    streams = [str(s) for s in message.get("params") or []]
    if method == "UNSUBSCRIBE" and sub is not None:
        sub.streams.difference_update(streams)
        return None, sub
    if method != "SUBSCRIBE":
        return {"error": {"code": 4000, "message": f"Unknown method {method}"}}, sub
    markets = set(ex.engine.markets)
    kinds = {stream: classify(stream, markets) for stream in streams}
    unknown = [stream for stream, kind in kinds.items() if kind is None]
    if unknown:
        return {"id": message.get("id"), "error": {"code": 4006, "message": "Invalid stream"}}, sub
    account = sub.account if sub is not None else None
    if "private" in kinds.values():
        signature = message.get("signature")
        if not isinstance(signature, list) or len(signature) != 4:
            return {"error": {"code": 4006, "message": "Private streams need a signature"}}, sub
        key, sig, ts, window = (str(x) for x in signature)
        headers = {"x-api-key": key, "x-signature": sig, "x-timestamp": ts, "x-window": window}
        try:
            account = authenticate(headers, "subscribe", None, ex.keys, ex.clock())
        except EngineReject as exc:
            return {"error": {"code": 4006, "message": exc.message}}, sub
    if sub is None:
        sub = Subscriber(account)
        ex.hub.subscribers.add(sub)
    sub.account = account
    sub.streams.update(streams)
    return {"result": None, "id": message.get("id")}, sub
