"""Public market data derived from the price path: ticker, klines, trades and a synthetic book."""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gridkeeper.exchange.paper.book import ZERO, MarketSpec
from gridkeeper.exchange.paper.engine import EngineReject
from gridkeeper.exchange.paper.liquidity import LiquidityModel, book_levels
from gridkeeper.exchange.paper.serialize import d, ratio

INTERVALS_S = {
    "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200,
    "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400, "3d": 259200,
    "1w": 604800, "1month": 2592000,
}  # fmt: skip
TICKER_WINDOWS_MS = {"1d": 86_400_000, "1w": 604_800_000}
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
DEPTH_LEVELS = 20
DEPTH_QUANTITY = Decimal(10)
HISTORY_POINTS = 200_000  # one day at 1 s for two markets, bounded

PriceListener = Callable[[str, int, Decimal], None]
Level = tuple[Decimal, Decimal]


class PriceHistory:
    """Recent (ms, price) points per symbol, in memory (kline history restarts with the server).

    `listeners` are told of every point added: the public websocket streams hang off it, so
    every price change the exchange makes is published without the service knowing about them.
    """

    def __init__(self) -> None:
        self.points: dict[str, deque[tuple[int, Decimal]]] = {}
        self.listeners: list[PriceListener] = []

    def add(self, symbol: str, ts_ms: int, price: Decimal) -> None:
        series = self.points.setdefault(symbol, deque(maxlen=HISTORY_POINTS))
        if series and ts_ms < series[-1][0]:
            ts_ms = series[-1][0]
        series.append((ts_ms, price))
        for listener in self.listeners:
            listener(symbol, ts_ms, price)

    def between(self, symbol: str, start_ms: int, end_ms: int) -> list[tuple[int, Decimal]]:
        series = self.points.get(symbol)
        if not series:
            return []
        # Only the recent tail is usually asked for: walk back from the end instead of copying
        # up to HISTORY_POINTS entries on every ticker.
        if series[0][0] >= start_ms:
            items: Sequence[tuple[int, Decimal]] = list(series)
        else:
            tail: list[tuple[int, Decimal]] = []
            for point in reversed(series):
                if point[0] < start_ms:
                    break
                tail.append(point)
            tail.reverse()
            items = tail
        lo = bisect.bisect_left(items, start_ms, key=lambda p: p[0])
        hi = bisect.bisect_right(items, end_ms, key=lambda p: p[0])
        return list(items[lo:hi])


@dataclass(frozen=True, slots=True)
class PublicTrade:
    id: int
    symbol: str
    price: Decimal
    quantity: Decimal
    timestamp_ms: int
    is_buyer_maker: bool
    buyer_order_id: str | None = None
    seller_order_id: str | None = None


def trade_json(trade: PublicTrade) -> dict[str, Any]:
    """A `Trade` of `GET /api/v1/trades`."""
    return {
        "id": trade.id,
        "price": d(trade.price),
        "quantity": d(trade.quantity),
        "quoteQuantity": d(trade.price * trade.quantity),
        "timestamp": trade.timestamp_ms,
        "isBuyerMaker": trade.is_buyer_maker,
    }


def _volumes(trades: Iterable[PublicTrade]) -> tuple[Decimal, Decimal, int]:
    volume, quote, count = ZERO, ZERO, 0
    for trade in trades:
        volume += trade.quantity
        quote += trade.quantity * trade.price
        count += 1
    return volume, quote, count


def ticker_json(
    symbol: str,
    last: Decimal,
    history: PriceHistory,
    now_ms: int,
    *,
    interval: str = "1d",
    trades: Sequence[PublicTrade] = (),
) -> dict[str, Any]:
    window = TICKER_WINDOWS_MS.get(interval)
    if window is None:
        raise EngineReject("INVALID_CLIENT_REQUEST", f"Invalid interval {interval}", 400)
    since = now_ms - window
    day = [p for _, p in history.between(symbol, since, now_ms)] or [last]
    first = day[0]
    change = last - first
    volume, quote, count = _volumes(t for t in trades if t.timestamp_ms >= since)
    return {
        "symbol": symbol,
        "firstPrice": d(first),
        "lastPrice": d(last),
        "priceChange": d(change),
        "priceChangePercent": ratio(change / first),
        "high": d(max(day)),
        "low": d(min(day)),
        "volume": d(volume),
        "quoteVolume": d(quote),
        "trades": str(count),
    }


# -- depth: the book's contents (replaceable by a liquidity model) and its serialization --------


def synthetic_book(
    spec: MarketSpec,
    last: Decimal,
    levels: int,
    model: LiquidityModel | None = None,
    taken: Mapping[Decimal, Decimal] | None = None,
) -> tuple[list[Level], list[Level]]:
    """(bids best first, asks best first): the book model's levels (`unkind.liquidity`, less
    what takers consumed since the last price move), else `levels` ticks each side of the last
    price with a fixed depth."""
    if model is not None:
        return book_levels(spec, last, model, levels, taken=taken)
    bids = [(last - spec.tick_size * k, DEPTH_QUANTITY) for k in range(1, levels + 1)]
    asks = [(last + spec.tick_size * k, DEPTH_QUANTITY) for k in range(1, levels + 1)]
    return [b for b in bids if b[0] > ZERO], asks


def depth_limit(value: str | None) -> int:
    """The `limit` query parameter of `/api/v1/depth` (Backpack's `DepthLimit` enum)."""
    if value is None or value == "":
        return DEPTH_LEVELS
    if not value.isdigit() or int(value) not in DEPTH_LIMITS:
        raise EngineReject(
            "INVALID_CLIENT_REQUEST",
            f"Invalid limit {value}: one of {', '.join(map(str, DEPTH_LIMITS))}",
            400,
        )
    return int(value)


def levels_json(levels: Iterable[Level]) -> list[list[str]]:
    return [[d(price), d(quantity)] for price, quantity in levels]


def depth_json(
    spec: MarketSpec,
    last: Decimal,
    now_ms: int,
    limit: int = DEPTH_LEVELS,
    update_id: int | None = None,
    model: LiquidityModel | None = None,
    taken: Mapping[Decimal, Decimal] | None = None,
) -> dict[str, Any]:
    """`GET /api/v1/depth`: at most `limit` levels a side, both sides in ascending price."""
    bids, asks = synthetic_book(spec, last, limit, model, taken)
    return {
        "asks": levels_json(asks[:limit]),
        "bids": levels_json(reversed(bids[:limit])),
        "lastUpdateId": str(now_ms if update_id is None else update_id),
        "timestamp": now_ms * 1000,
    }


def _stamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def kline_width(interval: str) -> int:
    width = INTERVALS_S.get(interval)
    if width is None:
        raise EngineReject("INVALID_CLIENT_REQUEST", f"Invalid interval {interval}", 400)
    return width


def klines_json(
    symbol: str,
    interval: str,
    start_s: int,
    end_s: int,
    history: PriceHistory,
    trades: Sequence[PublicTrade] = (),
) -> list[dict[str, Any]]:
    width = kline_width(interval)
    buckets: dict[int, list[Decimal]] = {}
    for ts_ms, price in history.between(symbol, start_s * 1000, end_s * 1000 + 999):
        start = (ts_ms // 1000) // width * width
        buckets.setdefault(start, []).append(price)
    volumes: dict[int, list[PublicTrade]] = {}
    for trade in trades:
        start = (trade.timestamp_ms // 1000) // width * width
        if start in buckets:
            volumes.setdefault(start, []).append(trade)
    out = []
    for start, prices in sorted(buckets.items()):
        volume, quote, count = _volumes(volumes.get(start, ()))
        out.append(
            {
                "start": _stamp(start),
                "end": _stamp(start + width),
                "open": d(prices[0]),
                "high": d(max(prices)),
                "low": d(min(prices)),
                "close": d(prices[-1]),
                "volume": d(volume),
                "quoteVolume": d(quote),
                "trades": str(count),
            }
        )
    return out
