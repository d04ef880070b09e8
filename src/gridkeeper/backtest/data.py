"""Price data for a backtest: the paper exchange's CSV, or OHLCV klines. Pure (file in, path out).

Formats (chosen from the file's content):
- paper CSV (`gridkeeper exchange record`, `price_source.kind: csv/replay`): a header
  `timestamp,<SYMBOL>...` (ms) or a single `price` column; one price per row. Rows without a
  `timestamp` column are `interval_s` apart. An empty cell keeps the previous price.
- klines CSV: columns `open,high,low,close` (+ `start` or `timestamp`, `volume` ignored).
  `start` is Backpack's `YYYY-MM-DD HH:MM:SS` (UTC) or milliseconds.
- klines JSON: a list of Backpack kline objects (`GET /api/v1/klines`: `start`, `open`, `high`,
  `low`, `close`, ...), or `{"klines": [...]}`.

Intra-bar path (klines): a bar is played as four prices, the *shorter* of the two paths through
its extremes — a bar that closes up goes open→low→high→close, one that closes down (or flat)
open→high→low→close. The shorter path crosses fewer grid levels, so it fills fewer round trips:
conservative for a grid. The four prices play at start, +1/4, +2/4 and +3/4 of the bar.
"""

from __future__ import annotations

import csv
import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

__all__ = ["DataError", "PricePath", "bar_path", "load_prices", "parse_time"]

KLINE_COLUMNS = ("open", "high", "low", "close")
INTERVALS_MS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000}


class DataError(Exception):
    """The data file cannot be read as prices (with the file and what is wrong)."""


@dataclass(frozen=True)
class PricePath:
    """Prices in time order: `times[i]` (ms since the epoch) plays `prices[i]`."""

    times: list[int]
    prices: list[Decimal]
    kind: str  # "ticks" or "klines"
    bars: int  # rows (ticks) or bars (klines) read

    def between(self, start_ms: int | None, end_ms: int | None) -> PricePath:
        keep = [
            i
            for i, t in enumerate(self.times)
            if (start_ms is None or t >= start_ms) and (end_ms is None or t <= end_ms)
        ]
        return PricePath(
            [self.times[i] for i in keep], [self.prices[i] for i in keep], self.kind, len(keep)
        )


def parse_time(value: str) -> int:
    """Milliseconds since the epoch from ms, seconds, an ISO date or `YYYY-MM-DD HH:MM:SS` (UTC)."""
    text = value.strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        try:
            parsed = datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
        except ValueError as exc:
            raise DataError(f"not a time: {value!r} (ms, or YYYY-MM-DD[ HH:MM:SS])") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    # Seconds before 10^11 (year 5138), milliseconds after: both appear in kline files.
    return int(number * 1000) if number < 10**11 else int(number)


def bar_path(o: Decimal, h: Decimal, low: Decimal, c: Decimal) -> tuple[Decimal, ...]:
    """The four prices a bar plays (see the module doc: the shorter path, conservative)."""
    if c > o:
        return (o, low, h, c)
    return (o, h, low, c)


def _dec(value: Any, where: str) -> Decimal:
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise DataError(f"{where}: not a number: {value!r}") from exc
    if not result.is_finite() or result <= 0:
        raise DataError(f"{where}: prices must be positive: {value!r}")
    return result


def _klines(rows: list[dict[str, Any]], path: Path, width_ms: int | None) -> PricePath:
    times: list[int] = []
    prices: list[Decimal] = []
    starts = []
    for n, row in enumerate(rows, start=2):
        stamp = row.get("start") if row.get("start") not in (None, "") else row.get("timestamp")
        if stamp in (None, ""):
            raise DataError(f"{path}:{n}: a kline needs `start` (or `timestamp`)")
        starts.append(parse_time(str(stamp)))
    if not starts:
        raise DataError(f"{path}: no klines")
    gaps = [b - a for a, b in itertools.pairwise(starts) if b > a]
    width = width_ms or (min(gaps) if gaps else 60_000)
    for n, (row, start) in enumerate(zip(rows, starts, strict=True), start=2):
        if any(row.get(k) in (None, "") for k in KLINE_COLUMNS):
            continue  # Backpack leaves an empty bar's prices null
        o, h, low, c = (_dec(row[k], f"{path}:{n} {k}") for k in KLINE_COLUMNS)
        if not (low <= min(o, c) and h >= max(o, c)):
            raise DataError(f"{path}:{n}: high/low do not contain open/close")
        for k, price in enumerate(bar_path(o, h, low, c)):
            times.append(start + width * k // 4)
            prices.append(price)
    return PricePath(times, prices, "klines", len(rows))


def _ticks(
    rows: list[dict[str, str]], path: Path, symbol: str | None, interval_s: float
) -> PricePath:
    columns = [c for c in (rows[0].keys() if rows else []) if c and c != "timestamp"]
    column = (
        symbol
        if symbol in columns
        else ("price" if "price" in columns else (columns[0] if len(columns) == 1 else None))
    )
    if column is None:
        raise DataError(
            f"{path}: no column for {symbol or 'the symbol'} (columns: {', '.join(columns)}); "
            "name it like the config's metadata.symbol, or `price`"
        )
    times: list[int] = []
    prices: list[Decimal] = []
    step_ms = int(interval_s * 1000)
    for n, row in enumerate(rows, start=2):
        value = row.get(column)
        if value in (None, ""):
            continue  # no trade at that instant: the previous price stands
        stamp = row.get("timestamp")
        if not stamp:
            times.append((n - 2) * step_ms)
        elif stamp.strip().isdigit():
            times.append(int(stamp))  # the paper CSV's timestamps are milliseconds
        else:
            times.append(parse_time(stamp))
        prices.append(_dec(value, f"{path}:{n}"))
    return PricePath(times, prices, "ticks", len(rows))


def load_prices(
    path: Path,
    *,
    symbol: str | None = None,
    interval_s: float = 1.0,
    kline_interval: str | None = None,
) -> PricePath:
    """Read `path` (format chosen from its content, see the module doc)."""
    width = INTERVALS_MS.get(kline_interval) if kline_interval else None
    try:
        text = path.read_text()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise DataError(f"{path}: not JSON: {exc}") from exc
        items = data.get("klines") if isinstance(data, dict) else data
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise DataError(f"{path}: expected a list of kline objects")
        found = _klines(items, path, width)
    else:
        rows = list(csv.DictReader(text.splitlines()))
        if not rows:
            raise DataError(f"{path}: no rows")
        if all(k in rows[0] for k in KLINE_COLUMNS):
            found = _klines(list(rows), path, width)
        else:
            found = _ticks(rows, path, symbol, interval_s)
    if not found.prices:
        raise DataError(f"{path}: no prices")
    order = sorted(range(len(found.times)), key=found.times.__getitem__)
    if order != list(range(len(order))):
        found = PricePath(
            [found.times[i] for i in order],
            [found.prices[i] for i in order],
            found.kind,
            found.bars,
        )
    return found
