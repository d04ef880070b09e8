"""How a feed ends (web/stream.py), deterministically: the races that left a closed tab's feed
running (and its keeper subscription open) are forced here rather than waited for."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gridkeeper.web.sources import Sources
from gridkeeper.web.stream import EventStreamResponse, Feed, finish

DEADLINE_S = 5.0


class QuietSources(Sources):
    """No keeper (its socket is missing: the events task retries), no monitor, no instances."""

    async def instances(self) -> list[dict[str, Any]]:
        return []

    async def host(self) -> list[dict[str, Any]]:
        return []

    async def alerts(self, since_s: float = 86400.0) -> dict[str, Any]:
        return {"alerts": [], "silences": [], "monitor": False}

    def monitor_version(self) -> int | None:
        return None


async def _stubborn(swallow: int, ended: asyncio.Event) -> None:
    """Swallows its first `swallow` cancellations, as 3.11's wait_for does when one races a
    result; sets `ended` on the way out."""
    try:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallow <= 0:
                    raise
                swallow -= 1
    finally:
        ended.set()


def test_finish_ends_a_task_that_swallows_cancellations() -> None:
    async def main() -> None:
        ended = asyncio.Event()
        task = asyncio.create_task(_stubborn(2, ended))
        await asyncio.sleep(0)
        await asyncio.wait_for(finish(task), DEADLINE_S)
        assert task.cancelled() and ended.is_set()

    asyncio.run(main())


def test_finish_being_cancelled_still_ends_its_tasks_first() -> None:
    async def main() -> None:
        ended = asyncio.Event()
        inner = asyncio.create_task(_stubborn(1, ended))
        await asyncio.sleep(0)
        outer = asyncio.create_task(finish(inner))
        await asyncio.sleep(0)
        outer.cancel()  # the server stopping while a feed is being ended
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(outer, DEADLINE_S)
        assert inner.done() and ended.is_set()

    asyncio.run(main())


def test_a_disconnect_ends_a_body_that_swallows_the_first_cancellation() -> None:
    """The response cancelled its pump once; a swallowed cancel kept the feed (and its keeper
    subscription) alive, since uvicorn drops writes after a disconnect instead of failing."""

    async def main() -> None:
        ended = asyncio.Event()
        gone = asyncio.Event()
        sent: list[dict[str, Any]] = []

        async def body(emit: Any) -> None:
            await emit(b"retry: 2000\n\n")
            await _stubborn(1, ended)

        async def receive() -> dict[str, Any]:
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        response = asyncio.create_task(EventStreamResponse(body, {})({}, receive, send))
        await asyncio.sleep(0.01)
        assert sent[0]["status"] == 200 and sent[1]["body"] == b"retry: 2000\n\n"
        gone.set()
        await asyncio.wait_for(response, DEADLINE_S)
        assert ended.is_set()

    asyncio.run(main())


@pytest.mark.parametrize("turns", range(6))
def test_a_cancel_racing_a_queued_update_ends_the_feed(tmp_path: Path, turns: int) -> None:
    """An update lands on the queue and the feed is cancelled `turns` loop turns later: on every
    offset the one cancellation ends the feed (3.11's wait_for returned the update instead, on
    some offsets, and the feed ran on)."""

    async def main() -> None:
        feed = Feed(QuietSources(tmp_path), refresh_s=3600)
        sent: list[bytes] = []

        async def emit(chunk: bytes) -> None:
            sent.append(chunk)

        task = asyncio.create_task(feed.run(emit))
        for _ in range(200):  # until it waits on its queue: retry, instances, host, alerts sent
            await asyncio.sleep(0.005)
            if feed.queue.empty() and any(c.startswith(b"event: alerts") for c in sent):
                break
        feed.queue.put_nowait(b"event: keeper\ndata: {}\n\n")
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()  # once, as a disconnect does
        done, _ = await asyncio.wait({task}, timeout=DEADLINE_S)
        assert task in done and task.cancelled()

    asyncio.run(main())
