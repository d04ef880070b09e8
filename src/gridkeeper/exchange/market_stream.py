"""Backpack's public `bookTicker.<symbol>` and `ticker.<symbol>` streams (and, for a perp,
`markPrice.<symbol>`), as one price view.

A bot at rest used to read the ticker and the depth over REST every poll (two requests a
second, each a few hundred microseconds of CPU on both ends). With this stream the exchange
pushes what changed, and the bot's poll only reads `MarketView`. A perp bot holding a position
also read `/api/v1/markPrices` every poll to value it; with `mark=True` the mark comes from the
stream too (`view.mark_price()`). While the connection is down
(or not acknowledged yet) `view.live` is False and callers read REST as before.

Usage::

    view = MarketView()
    stream = MarketStream(ws_url, "SOL_USDC_PERP", view, mark=True)
    task = asyncio.create_task(stream.run())   # reconnects by itself until cancelled
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import connect

from gridkeeper.backoff import Backoff

log = logging.getLogger(__name__)


# Backpack pushes the mark about once a second; older than this, the REST read is used instead.
MARK_MAX_AGE_S = 3.0


@dataclass
class MarketView:
    """The newest streamed figures; `live` only while the stream is connected and acknowledged
    (a quiet market sends nothing, so age says nothing about whether a figure still holds)."""

    last: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    mark: Decimal | None = None  # a perp's mark price (markPrice stream), when subscribed
    live: bool = False
    updated: float = 0.0  # monotonic time of the last message applied
    mark_updated: float = 0.0  # monotonic time of the last mark applied

    def price(self) -> Decimal | None:
        """The last trade price, while the stream holds it."""
        return self.last if self.live else None

    def mark_price(self, max_age_s: float = MARK_MAX_AGE_S) -> Decimal | None:
        """The perp's mark price, while the stream holds one at most `max_age_s` old. The
        stop-loss compares PnL at the mark: a mark the exchange stopped pushing must not stand
        in for a fresh read (callers then read REST, as without the stream)."""
        if not self.live or self.mark is None:
            return None
        return self.mark if time.monotonic() - self.mark_updated <= max_age_s else None

    def top(self) -> tuple[Decimal, Decimal] | None:
        """Best bid and ask, while the stream holds both."""
        if self.live and self.bid is not None and self.ask is not None:
            return self.bid, self.ask
        return None


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        return None
    return out if out.is_finite() and out > 0 else None


class MarketStream:
    def __init__(
        self,
        ws_url: str,
        symbol: str,
        view: MarketView,
        *,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        open_timeout_s: float = 10.0,
        mark: bool = False,
    ) -> None:
        self.ws_url = ws_url
        self.symbol = symbol
        self.view = view
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.open_timeout_s = open_timeout_s
        self.streams = [f"bookTicker.{symbol}", f"ticker.{symbol}"]
        if mark:  # perps only: a spot market has no mark price
            self.streams.append(f"markPrice.{symbol}")

    async def run(self) -> None:
        retry = Backoff(self.backoff_initial_s, self.backoff_max_s, jitter=0.2)
        while True:
            try:
                async with connect(
                    self.ws_url, open_timeout=self.open_timeout_s, max_size=2**20
                ) as ws:
                    subscribe = {"method": "SUBSCRIBE", "params": self.streams}
                    await ws.send(orjson.dumps(subscribe).decode())
                    retry.reset()
                    async for raw in ws:
                        self.handle(raw)
            except (OSError, websockets.exceptions.WebSocketException, TimeoutError) as exc:
                log.info("market stream disconnected: %r", exc)
            finally:
                # Until fresh figures arrive the old ones may be stale: callers use REST.
                self.view.live = False
                self.view.last = self.view.bid = self.view.ask = self.view.mark = None
            await asyncio.sleep(retry.next())

    def handle(self, raw: str | bytes) -> None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        if not isinstance(message, dict):
            return
        if "error" in message:
            log.warning("market stream refused: %s", message["error"])
            return
        if "result" in message:
            return  # the subscription's acknowledgement; figures follow (or already came)
        data = message.get("data")
        if not isinstance(data, dict) or data.get("s") != self.symbol:
            return
        view = self.view
        if data.get("e") == "bookTicker":
            bid, ask = _dec(data.get("b")), _dec(data.get("a"))
            if bid is not None and ask is not None and bid >= ask:
                return  # a crossed top is not a book to place against
            view.bid, view.ask = bid, ask
        elif data.get("e") == "ticker":
            last = _dec(data.get("c"))
            if last is None:
                return
            view.last = last
        elif data.get("e") == "markPrice":
            mark = _dec(data.get("p"))
            if mark is None:
                return
            view.mark = mark
            view.mark_updated = time.monotonic()
        else:
            return
        view.updated = time.monotonic()
        view.live = True
