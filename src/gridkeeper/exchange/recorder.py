"""Recording Backpack's public prices into the CSV the paper exchange replays.

The file has a header `timestamp,<SYMBOL>...`; each row is one instant (milliseconds since the
epoch) with the price of every symbol that traded then (an empty cell: no price, the replay
keeps the previous one). `price_source.kind: "replay"` plays it at its own timing (or `speed`
times faster); `kind: "csv"` plays it one row per `interval_s`.

Sources, all public REST endpoints of the given base URL:
- `trades` (`GET /api/v1/trades`, polled): every trade, at its own timestamp.
- `ticker` (`GET /api/v1/ticker`, polled): the last price of each symbol once per poll.
- `klines` (`GET /api/v1/klines`, once): the close of each kline over the past `duration`.
"""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal

import httpx

from gridkeeper.exchange.paper.marketdata import INTERVALS_S

Source = Literal["trades", "ticker", "klines"]
SOURCES: tuple[Source, ...] = ("trades", "ticker", "klines")
DEFAULT_BASE_URL = "https://api.backpack.exchange"
TRADES_LIMIT = 1000  # Backpack's most recent trades endpoint serves at most this many


class RecorderError(Exception):
    """Recording cannot go on: a refused request, a missing endpoint, a bad answer."""


@dataclass
class RecordOptions:
    symbols: Sequence[str]
    out: Path
    base_url: str = DEFAULT_BASE_URL
    source: Source = "trades"
    interval_s: float = 1.0  # between polls (trades, ticker)
    duration_s: float | None = None  # stop after; klines: how far back to fetch
    count: int | None = None  # stop after this many rows
    kline_interval: str = "1m"
    timeout_s: float = 10.0


@dataclass
class _Writer:
    """Appends rows to the CSV and flushes each batch, so an interrupted recording keeps them."""

    handle: IO[str]
    symbols: Sequence[str]
    limit: int | None
    written: int = 0
    writer: Any = field(init=False)

    def __post_init__(self) -> None:
        self.writer = csv.writer(self.handle, lineterminator="\n")
        self.writer.writerow(["timestamp", *self.symbols])

    @property
    def full(self) -> bool:
        return self.limit is not None and self.written >= self.limit

    def write(self, rows: list[tuple[int, dict[str, Decimal]]]) -> None:
        for ts, prices in sorted(rows, key=lambda r: r[0]):
            if self.full:
                break
            self.writer.writerow([ts, *(_fmt(prices.get(s)) for s in self.symbols)])
            self.written += 1
        self.handle.flush()


def _fmt(price: Decimal | None) -> str:
    return "" if price is None else format(price, "f")


def _decimal(value: object, what: str) -> Decimal:
    try:
        return Decimal(str(value))
    except ArithmeticError as exc:
        raise RecorderError(f"bad {what} in the answer: {value!r}") from exc


async def _get(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> Any:
    """One public GET: a 4xx stops the recording (with what to do), a 5xx or network error
    raises httpx.HTTPError for the caller to retry."""
    response = await client.get(path, params=params)
    if response.status_code == 404:
        hint = ": record with --source ticker or --source klines" if "trades" in path else ""
        raise RecorderError(f"{client.base_url}{path} answered 404 (no such endpoint){hint}")
    if 400 <= response.status_code < 500:
        raise RecorderError(f"{path} refused {params}: {response.status_code} {response.text}")
    response.raise_for_status()
    return response.json()


class _Poller:
    """What one poll of the trades or ticker source found, new since the last poll."""

    def __init__(self, client: httpx.AsyncClient, options: RecordOptions) -> None:
        self.client = client
        self.options = options
        self.seen: dict[str, set[tuple[int, Any]]] = {s: set() for s in options.symbols}

    async def trades(self) -> list[tuple[int, dict[str, Decimal]]]:
        by_ts: dict[int, dict[str, Decimal]] = {}
        for symbol in self.options.symbols:
            found = await _get(
                self.client, "/api/v1/trades", {"symbol": symbol, "limit": TRADES_LIMIT}
            )
            for trade in found:
                key = (int(trade["timestamp"]), trade.get("id"))
                if key in self.seen[symbol]:
                    continue
                self.seen[symbol].add(key)
                # Several trades in one millisecond: the row keeps the last one's price.
                by_ts.setdefault(key[0], {})[symbol] = _decimal(trade["price"], "price")
        return sorted(by_ts.items())

    async def ticker(self) -> list[tuple[int, dict[str, Decimal]]]:
        prices: dict[str, Decimal] = {}
        for symbol in self.options.symbols:
            found = await _get(self.client, "/api/v1/ticker", {"symbol": symbol})
            prices[symbol] = _decimal(found["lastPrice"], "lastPrice")
        return [(time.time_ns() // 1_000_000, prices)]


def _kline_ms(stamp: str) -> int:
    parsed = datetime.fromisoformat(stamp.replace(" ", "T"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


async def _klines(
    client: httpx.AsyncClient, options: RecordOptions
) -> list[tuple[int, dict[str, Decimal]]]:
    if options.kline_interval not in INTERVALS_S:
        raise RecorderError(
            f"unknown kline interval {options.kline_interval!r} (one of {', '.join(INTERVALS_S)})"
        )
    end_s = int(time.time())
    start_s = end_s - int(options.duration_s or 86400)
    by_ts: dict[int, dict[str, Decimal]] = {}
    for symbol in options.symbols:
        params = {
            "symbol": symbol,
            "interval": options.kline_interval,
            "startTime": start_s,
            "endTime": end_s,
        }
        for kline in await _get(client, "/api/v1/klines", params):
            if kline.get("close") is None:
                continue
            ts = _kline_ms(str(kline["start"]))
            by_ts.setdefault(ts, {})[symbol] = _decimal(kline["close"], "close")
    return sorted(by_ts.items())


async def record(options: RecordOptions, *, warn: Callable[[str], None] = lambda _: None) -> int:
    """Record until the duration or count is reached (or the task is cancelled). Rows written."""
    if not options.symbols:
        raise RecorderError("name at least one symbol")
    options.out.parent.mkdir(parents=True, exist_ok=True)
    async with httpx.AsyncClient(base_url=options.base_url, timeout=options.timeout_s) as client:
        with options.out.open("w", newline="") as handle:
            writer = _Writer(handle, list(options.symbols), options.count)
            if options.source == "klines":
                writer.write(await _klines(client, options))
                return writer.written
            poller = _Poller(client, options)
            poll: Callable[[], Awaitable[list[tuple[int, dict[str, Decimal]]]]] = (
                poller.trades if options.source == "trades" else poller.ticker
            )
            deadline = None if options.duration_s is None else time.monotonic() + options.duration_s
            while not writer.full and (deadline is None or time.monotonic() < deadline):
                try:
                    writer.write(await poll())
                except httpx.HTTPError as exc:
                    warn(f"poll failed, retrying in {options.interval_s:g}s: {exc!r}")
                if writer.full:
                    break
                await asyncio.sleep(options.interval_s)
            return writer.written
