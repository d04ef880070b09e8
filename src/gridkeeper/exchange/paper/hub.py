"""Fan-out of websocket messages: private streams per account, public streams to anyone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

QUEUE_LIMIT = 10_000

OrderListener = Callable[[str, str, dict[str, Any]], None]


@dataclass(eq=False)
class Subscriber:
    account: str | None  # None until a signed SUBSCRIBE: public streams only
    streams: set[str] = field(default_factory=set)
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT)
    )


class Hub:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        # Told of every order update published (public trades are derived from the fills).
        self.listeners: list[OrderListener] = []

    def publish(self, account: str, symbol: str, data: dict[str, Any]) -> None:
        """An `account.orderUpdate` event of `account` on `symbol`."""
        for listener in self.listeners:
            listener(account, symbol, data)
        self.publish_private(account, "account.orderUpdate", symbol, data)

    def publish_private(self, account: str, base: str, symbol: str, data: dict[str, Any]) -> None:
        """To `account`'s subscribers of `base` or `base.<symbol>` (once per subscriber)."""
        for sub in list(self.subscribers):
            if sub.account != account:
                continue
            for stream in (base, f"{base}.{symbol}"):
                if stream in sub.streams:
                    self._put(sub, {"stream": stream, "data": data})
                    break

    def publish_public(self, stream: str, data: dict[str, Any]) -> None:
        for sub in list(self.subscribers):
            if stream in sub.streams:
                self._put(sub, {"stream": stream, "data": data})

    def wants(self, stream: str) -> bool:
        """Whether anyone listens to `stream`: payloads are only built for an audience."""
        return any(stream in sub.streams for sub in self.subscribers)

    def wants_private(self, account: str, base: str, symbol: str) -> bool:
        return any(
            sub.account == account and (base in sub.streams or f"{base}.{symbol}" in sub.streams)
            for sub in self.subscribers
        )

    def _put(self, sub: Subscriber, item: dict[str, Any]) -> None:
        try:
            sub.queue.put_nowait(item)
        except asyncio.QueueFull:
            # A reader this slow has lost its place: drop it so it reconnects and backfills,
            # rather than silently missing updates.
            self.drop(sub)

    def drop(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)

    def drop_all(self) -> int:
        subs = list(self.subscribers)
        for sub in subs:
            self.drop(sub)
        return len(subs)
