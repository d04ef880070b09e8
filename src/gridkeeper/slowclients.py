"""Slow and idle HTTP clients on our uvicorn servers (the bot's control API, the web dashboard).

uvicorn (0.54, h11) arms no timer on a fresh connection and cancels its keep-alive timer on the
first byte of a next request, so a client that connects and sends nothing, or half a request
line or headers (slowloris), holds a connection, a file descriptor and a buffer for ever. Its
`limit_concurrency` does not help: it counts idle connections too, so a few hundred idle sockets
turn every real request, /health included, into a 503 while the sockets stay open.

`guarded_protocol()` is uvicorn's own H11Protocol with two additions, the smallest that close
both holes (uvicorn has no request-head timeout of its own):

- A request deadline: from a connection's start, or from the first byte of its next request on
  a keep-alive connection, the whole request (head and body) must arrive within
  `request_timeout_s`, or the connection is closed. Our request bodies are a few KiB at most;
  an app already reading a late body sees `http.disconnect`.
- A connection cap: past `max_connections`, a new connection closes the oldest connection that
  is not being answered (waiting for its request, or idle between keep-alive requests). A real
  client sends its request at once, so idle sockets, however many, cost it at most a retry and
  never hold more than `max_connections` descriptors. When every connection is busy being
  answered, the new one is closed instead.

Keep-alive idle connections are closed by uvicorn itself after `KEEP_ALIVE_S`
(`timeout_keep_alive`, part of `server_options()`).

Only uvicorn and h11 (which uvicorn imports anyway): the bot imports this (docs/footprint.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_TIMEOUT_S = 10.0  # a real client sends its whole request in milliseconds
KEEP_ALIVE_S = 5  # uvicorn's default, written down: idle keep-alive connections close after it
MAX_CONNECTIONS = 64  # the bot's API has one keeper, a CLI and a dashboard as clients

# h11 states in which the peer is still sending its request (head or body).
_RECEIVING = (h11.IDLE, h11.SEND_BODY)


def guarded_protocol(
    request_timeout_s: float = REQUEST_TIMEOUT_S, max_connections: int = MAX_CONNECTIONS
) -> type[asyncio.Protocol]:
    """A protocol class for `uvicorn.Config(http=...)`; one per server (it keeps the server's
    evictable connections)."""
    if request_timeout_s <= 0 or max_connections < 1:
        raise ValueError("request_timeout_s must be > 0 and max_connections >= 1")
    # Connections not being answered, oldest first (a dict keeps insertion order).
    evictable: dict[GuardedH11Protocol, None] = {}

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()
            evictable[self] = None
            if len(self.connections) > max_connections:
                # The oldest evictable one; this very connection when all others are busy.
                victim = next(iter(evictable))
                victim._close()

        def data_received(self, data: bytes) -> None:
            if self._deadline is None and self.conn.their_state is h11.IDLE:
                self._arm()  # a keep-alive connection's next request starts now
                evictable[self] = None
            super().data_received(data)
            self._track()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._track()

        def handle_websocket_upgrade(self, event: h11.Request) -> None:
            self._disarm()
            evictable.pop(self, None)
            super().handle_websocket_upgrade(event)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            evictable.pop(self, None)
            super().connection_lost(exc)

        def _track(self) -> None:
            """After h11 has seen more: a complete request disarms the deadline and makes the
            connection busy; an answered one (keep-alive) is evictable until its next request."""
            if self.transport.is_closing():
                return
            state = self.conn.their_state
            if state in _RECEIVING:
                if state is h11.IDLE and self._deadline is None:
                    evictable[self] = None  # answered, waiting on keep-alive (uvicorn's timer)
                return
            self._disarm()
            evictable.pop(self, None)

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(request_timeout_s, self._close)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _close(self) -> None:
            self._disarm()
            evictable.pop(self, None)
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol


def server_options(
    request_timeout_s: float = REQUEST_TIMEOUT_S, max_connections: int = MAX_CONNECTIONS
) -> dict[str, Any]:
    """The `uvicorn.Config` keyword arguments that bound slow, idle and too many clients."""
    return {
        "http": guarded_protocol(request_timeout_s, max_connections),
        "timeout_keep_alive": KEEP_ALIVE_S,
        # h11's limit on a request head still being received (uvicorn's default, explicit).
        "h11_max_incomplete_event_size": 16 * 1024,
    }
