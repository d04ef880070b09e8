"""The live feed: one server-sent-events connection per open dashboard, fed by the keeper's
`subscribe` stream (the keeper pushes each event as it happens: one waiting connection per
dashboard, no polling of the keeper's event log).

What a dashboard receives (`event: <name>`, `data: <JSON>`):
- `instances`: the status table, at connect, after every keeper event (at once after a quiet
  spell; at most one table per 200 ms during a burst, the last one after the burst's end),
  and every `refresh_s` for the figures that change without an event (CPU, RSS, uptime, PnL);
- `keeper`: each keeper event itself (the page shows the newest ones);
- `alerts`: at connect and whenever `monitor.db` changes (checked every second: a stat);
- `host`: the monitor's latest host metrics, every `refresh_s`;
- `problem`: a source that failed (no keeper answers), shown in a banner until the next success.

Ending a feed: the response (not an async generator's `finally`) owns the feed's tasks and
cancels each until it has ended. No `asyncio.wait_for` here: on Python 3.11 it swallows a
cancellation that arrives as its inner await completes (it returns the result instead), which
left a closed tab's feed running, and its keeper subscription open, until the server stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson

from gridkeeper.keeper.client import SOCKET
from gridkeeper.web.sources import SourceError, Sources

DEBOUNCE_S = 0.2
RECONNECT_S = (0.5, 1.0, 2.0, 5.0)
LINE_LIMIT = 16 << 20
KEEPALIVE_S = 15.0  # proxies close idle streams
STOP_POLL_S = 0.5

Emit = Callable[[bytes], Awaitable[None]]
Body = Callable[[Emit], Coroutine[Any, Any, None]]  # Feed.run: feeds the page through Emit


async def finish(*tasks: asyncio.Task[Any]) -> None:
    """Cancel `tasks` until every one has ended. One cancellation is not always enough: a
    coroutine that swallows it (3.11's `wait_for` racing a result, a library's broad `except`)
    would keep running, and whatever it holds stays open. Being cancelled meanwhile does not
    cut this short (that would leave them running): it is raised once they have all ended."""
    cancelled = False
    while pending := [task for task in tasks if not task.done()]:
        for task in pending:
            task.cancel()
        try:
            await asyncio.wait(pending, timeout=STOP_POLL_S)
        except asyncio.CancelledError:
            cancelled = True
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: a failure of a feed we are ending is not news
    if cancelled:
        raise asyncio.CancelledError


async def keeper_events(home: Path) -> AsyncGenerator[dict[str, Any], None]:
    """New keeper events as they happen; returns when the keeper closes the stream."""
    reader, writer = await asyncio.open_unix_connection(str(home / SOCKET), limit=LINE_LIMIT)
    try:
        writer.write(orjson.dumps({"op": "subscribe", "args": {}}) + b"\n")
        await writer.drain()
        async with asyncio.timeout(10.0):
            first = orjson.loads(await reader.readline() or b"{}")
        if not first.get("ok"):
            raise ConnectionError("the keeper refused the subscription")
        yield {}  # subscribed (no event): the caller clears a "no keeper" banner
        while line := await reader.readline():
            event = orjson.loads(line).get("event")
            if isinstance(event, dict):
                yield event
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def sse(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class Feed:
    """One dashboard's stream. Producers put (name, data) on a queue; `__aiter__` yields SSE."""

    def __init__(self, sources: Sources, refresh_s: float) -> None:
        self.sources = sources
        self.refresh_s = refresh_s
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)
        self.dirty = asyncio.Event()
        self._errors: set[str] = set()
        self._problems: dict[str, str | None] = {}

    def put(self, name: str, data: Any) -> None:
        if name == "problem":  # say it once, and once more when it is over
            if self._problems.get(data["source"]) == data["message"]:
                return
            self._problems[data["source"]] = data["message"]
        with contextlib.suppress(asyncio.QueueFull):  # a stalled browser loses updates, not us
            self.queue.put_nowait(sse(name, data))

    async def _send(self, name: str, fetch: Callable[[], Awaitable[Any]]) -> None:
        try:
            data = await fetch()
        except SourceError as exc:
            self._errors.add(name)
            self.put("problem", {"source": name, "message": str(exc)})
            return
        if name in self._errors:
            self._errors.discard(name)
            self.put("problem", {"source": name, "message": None})
        self.put(name, data)

    async def _events(self) -> None:
        attempt = 0
        while True:
            try:
                # aclosing: a cancelled feed closes its keeper connection now, not at GC.
                async with contextlib.aclosing(keeper_events(self.sources.home)) as events:
                    async for event in events:
                        if not event:
                            if attempt:
                                self.put("problem", {"source": "events", "message": None})
                            attempt = 0
                            continue
                        self.put("keeper", event)
                        self.dirty.set()
            except (OSError, ValueError, TimeoutError) as exc:
                self.put("problem", {"source": "events", "message": f"no keeper events: {exc}"})
            else:
                self.put("problem", {"source": "events", "message": "the keeper closed its stream"})
            await asyncio.sleep(RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)])
            attempt += 1
            self.dirty.set()  # whatever happened meanwhile: show the table as it is now

    async def _tables(self) -> None:
        next_tick = time.monotonic() + self.refresh_s
        last_sent = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_tick - time.monotonic())):
                    await self.dirty.wait()
                # At most one table per DEBOUNCE_S: an event after a quiet spell goes out at
                # once; a burst (crashed, backoff, starting) gives one more table at its end.
                await asyncio.sleep(max(0.0, last_sent + DEBOUNCE_S - time.monotonic()))
            self.dirty.clear()
            last_sent = time.monotonic()
            await self._send("instances", self.sources.instances)
            if time.monotonic() >= next_tick:
                await self._send("host", self.sources.host)
                next_tick = time.monotonic() + self.refresh_s

    async def _alerts(self) -> None:
        seen: object = object()
        while True:
            version = self.sources.monitor_version()
            if version != seen:
                seen = version
                await self._send("alerts", self.sources.alerts)
            await asyncio.sleep(1.0)

    async def run(self, emit: Emit) -> None:
        """Feed the dashboard through `emit` until cancelled (or `emit` fails). Everything it
        opens (the keeper subscription, its producer tasks) is closed on the way out, on every
        path: cancelled before it ever ran, mid-send, or mid-connect to the keeper."""
        tasks: list[asyncio.Task[None]] = []
        try:
            await emit(b"retry: 2000\n\n")
            await self._send("instances", self.sources.instances)
            await self._send("host", self.sources.host)
            tasks = [
                asyncio.create_task(self._events()),
                asyncio.create_task(self._tables()),
                asyncio.create_task(self._alerts()),
            ]
            while True:
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        chunk = await self.queue.get()
                except TimeoutError:
                    chunk = b": keep-alive\n\n"
                await emit(chunk)
        finally:
            await finish(*tasks)


class EventStreamResponse:
    """An SSE response that ends the feed the moment the browser goes away. Starlette's
    StreamingResponse (under ASGI 2.4) notices only when its next write fails, and uvicorn's
    h11 server never fails a write after a disconnect (it drops it): a feed relying on that
    would hold its keeper subscription until the server stops. Here a second task waits for
    `http.disconnect` (as sse-starlette does) and the feed task is cancelled until it ends."""

    def __init__(self, run: Body, headers: dict[str, str]) -> None:
        self.run = run
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8"), *self.headers]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def emit(chunk: bytes) -> None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        feed = asyncio.create_task(self.run(emit))
        watcher = asyncio.create_task(watch())
        try:
            await asyncio.wait({feed, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await finish(feed, watcher)
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})
