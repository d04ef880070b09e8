"""Fan-out of order updates to websocket subscribers, per account and stream."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

QUEUE_LIMIT = 10_000


@dataclass(eq=False)
class Subscriber:
    account: str
    streams: set[str] = field(default_factory=set)
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT)
    )


class Hub:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()

    def publish(self, account: str, symbol: str, data: dict[str, Any]) -> None:
        for sub in list(self.subscribers):
            if sub.account != account:
                continue
            for stream in ("account.orderUpdate", f"account.orderUpdate.{symbol}"):
                if stream in sub.streams:
                    try:
                        sub.queue.put_nowait({"stream": stream, "data": data})
                    except asyncio.QueueFull:
                        # A reader this slow has lost its place: drop it so it reconnects and
                        # backfills, rather than silently missing updates.
                        self.drop(sub)
                    break

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
