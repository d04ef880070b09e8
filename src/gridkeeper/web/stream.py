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
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from gridkeeper.keeper.client import SOCKET
from gridkeeper.web.sources import SourceError, Sources

DEBOUNCE_S = 0.2
RECONNECT_S = (0.5, 1.0, 2.0, 5.0)
LINE_LIMIT = 16 << 20


async def keeper_events(home: Path) -> AsyncGenerator[dict[str, Any], None]:
    """New keeper events as they happen; returns when the keeper closes the stream."""
    reader, writer = await asyncio.open_unix_connection(str(home / SOCKET), limit=LINE_LIMIT)
    try:
        writer.write(orjson.dumps({"op": "subscribe", "args": {}}) + b"\n")
        await writer.drain()
        first = orjson.loads(await asyncio.wait_for(reader.readline(), 10.0) or b"{}")
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
                await asyncio.wait_for(self.dirty.wait(), max(0.0, next_tick - time.monotonic()))
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

    async def stream(self) -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        await self._send("instances", self.sources.instances)
        await self._send("host", self.sources.host)
        tasks = [
            asyncio.create_task(self._events()),
            asyncio.create_task(self._tables()),
            asyncio.create_task(self._alerts()),
        ]
        try:
            while True:
                try:
                    yield await asyncio.wait_for(self.queue.get(), 15.0)
                except TimeoutError:
                    yield b": keep-alive\n\n"  # proxies close idle streams
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


class EventStreamResponse:
    """An SSE response that ends the feed the moment the browser goes away. Starlette's
    StreamingResponse (under ASGI 2.4) notices only when its next write fails, up to
    `refresh_s` later, holding the keeper subscription meanwhile."""

    def __init__(self, body: AsyncIterator[bytes], headers: dict[str, str]) -> None:
        self.body = body
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8"), *self.headers]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def pump() -> None:
            async for chunk in self.body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        tasks = [asyncio.create_task(pump()), asyncio.create_task(watch())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            aclose = getattr(self.body, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})
