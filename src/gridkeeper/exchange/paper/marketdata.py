"""Public market data derived from the price path: ticker, klines and a synthetic book."""

from __future__ import annotations

import bisect
from collections import deque
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gridkeeper.exchange.paper.book import MarketSpec
from gridkeeper.exchange.paper.engine import EngineReject
from gridkeeper.exchange.paper.serialize import d

INTERVALS_S = {
    "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200,
    "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400, "3d": 259200,
    "1w": 604800, "1month": 2592000,
}  # fmt: skip
DEPTH_LEVELS = 20
DEPTH_QUANTITY = Decimal(10)
HISTORY_POINTS = 200_000  # one day at 1 s for two markets, bounded


class PriceHistory:
    """Recent (ms, price) points per symbol, in memory (kline history restarts with the server)."""

    def __init__(self) -> None:
        self.points: dict[str, deque[tuple[int, Decimal]]] = {}

    def add(self, symbol: str, ts_ms: int, price: Decimal) -> None:
        series = self.points.setdefault(symbol, deque(maxlen=HISTORY_POINTS))
        if series and ts_ms < series[-1][0]:
            ts_ms = series[-1][0]
        series.append((ts_ms, price))

    def between(self, symbol: str, start_ms: int, end_ms: int) -> list[tuple[int, Decimal]]:
        series = list(self.points.get(symbol, ()))
        lo = bisect.bisect_left(series, start_ms, key=lambda p: p[0])
        hi = bisect.bisect_right(series, end_ms, key=lambda p: p[0])
        return series[lo:hi]


def ticker_json(symbol: str, last: Decimal, history: PriceHistory, now_ms: int) -> dict[str, Any]:
    day = [p for _, p in history.between(symbol, now_ms - 86_400_000, now_ms)] or [last]
    first = day[0]
    change = last - first
    return {
        "symbol": symbol,
        "firstPrice": d(first),
        "lastPrice": d(last),
        "priceChange": d(change),
        "priceChangePercent": d((change / first).quantize(Decimal("0.000001"))),
        "high": d(max(day)),
        "low": d(min(day)),
        "volume": "0",
        "quoteVolume": "0",
        "trades": "0",
    }


def depth_json(spec: MarketSpec, last: Decimal, now_ms: int) -> dict[str, Any]:
    bids = [[d(last - spec.tick_size * k), d(DEPTH_QUANTITY)] for k in range(DEPTH_LEVELS, 0, -1)]
    asks = [[d(last + spec.tick_size * k), d(DEPTH_QUANTITY)] for k in range(1, DEPTH_LEVELS + 1)]
    return {"asks": asks, "bids": bids, "lastUpdateId": str(now_ms), "timestamp": now_ms * 1000}


def _stamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def klines_json(
    symbol: str, interval: str, start_s: int, end_s: int, history: PriceHistory
) -> list[dict[str, Any]]:
    width = INTERVALS_S.get(interval)
    if width is None:
        raise EngineReject("INVALID_CLIENT_REQUEST", f"Invalid interval {interval}", 400)
    buckets: dict[int, list[Decimal]] = {}
    for ts_ms, price in history.between(symbol, start_s * 1000, end_s * 1000 + 999):
        start = (ts_ms // 1000) // width * width
        buckets.setdefault(start, []).append(price)
    return [
        {
            "start": _stamp(start),
            "end": _stamp(start + width),
            "open": d(prices[0]),
            "high": d(max(prices)),
            "low": d(min(prices)),
            "close": d(prices[-1]),
            "volume": "0",
            "quoteVolume": "0",
            "trades": str(len(prices)),
        }
        for start, prices in sorted(buckets.items())
    ]
