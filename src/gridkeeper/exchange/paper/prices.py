"""Price sources: a seeded random walk, a CSV (per interval or at its recorded timing),
Backpack's live ticker, or manual.

The walk and the replay are pure functions of (seed or file, symbol, step), so a restarted
exchange continues the same path from its persisted step.
"""

from __future__ import annotations

import csv
import math
import random
from decimal import Decimal
from pathlib import Path

import httpx

from gridkeeper.config.paper_exchange import PriceSource
from gridkeeper.errors import ConfigError
from gridkeeper.exchange.paper.book import MarketSpec


def walk_step(seed: int, symbol: str, step: int, current: Decimal, volatility: float) -> Decimal:
    """The next price of a geometric random walk; the same inputs give the same price."""
    rng = random.Random(f"{seed}:{symbol}:{step}")
    factor = math.exp(rng.gauss(0.0, volatility))
    return current * Decimal(repr(factor))


class CsvPrices:
    """Rows of a CSV: a column per symbol, or one `price` column shared by every market."""

    def __init__(self, path: Path, *, loop: bool) -> None:
        try:
            with path.open(newline="") as handle:
                self.rows = list(csv.DictReader(handle))
        except OSError as exc:
            raise ConfigError(f"cannot read price CSV: {exc}", file=str(path)) from exc
        if not self.rows:
            raise ConfigError("price CSV has no rows", file=str(path))
        self.loop = loop

    def price(self, symbol: str, step: int) -> Decimal | None:
        if step >= len(self.rows) and not self.loop:
            return None
        row = self.rows[step % len(self.rows)]
        value = row.get(symbol) or row.get("price")
        return Decimal(value) if value else None


class ReplayTiming:
    """When each row of a recorded CSV (its `timestamp` column, ms) plays, `speed` times faster."""

    def __init__(self, rows: list[dict[str, str]], *, speed: float, pause_s: float, path: Path):
        try:
            self.stamps = [int(Decimal(row.get("timestamp") or "")) for row in rows]
        except ArithmeticError as exc:
            raise ConfigError(
                "replay needs a `timestamp` column (ms) in every row; record one with "
                "`gridkeeper exchange record`",
                file=str(path),
            ) from exc
        self.speed = speed
        self.pause_s = pause_s

    def delay_s(self, step: int) -> float:
        """Seconds to wait before playing row `step` (the first row plays at once; a loop back
        to the start waits `pause_s`)."""
        n = len(self.stamps)
        if step == 0:
            return 0.0
        if step % n == 0:
            return self.pause_s
        gap_ms = self.stamps[step % n] - self.stamps[step % n - 1]
        return max(gap_ms, 0) / 1000 / self.speed


class LivePrices:
    """Backpack's public ticker, read over HTTPS (for users with internet)."""

    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)

    async def price(self, symbol: str) -> Decimal | None:
        try:
            response = await self.client.get("/api/v1/ticker", params={"symbol": symbol})
            response.raise_for_status()
            return Decimal(str(response.json()["lastPrice"]))
        except (httpx.HTTPError, KeyError, ValueError):
            return None  # keep the last price; the next interval tries again

    async def aclose(self) -> None:
        await self.client.aclose()


class PriceFeed:
    """Computes each market's next price from the configured source."""

    def __init__(self, source: PriceSource, base_dir: Path) -> None:
        self.source = source
        self.csv: CsvPrices | None = None
        self.live: LivePrices | None = None
        self.timing: ReplayTiming | None = None
        if source.kind in ("csv", "replay") and source.csv_path:
            path = Path(source.csv_path)
            path = path if path.is_absolute() else base_dir / path
            self.csv = CsvPrices(path, loop=source.loop)
            if source.kind == "replay":
                self.timing = ReplayTiming(
                    self.csv.rows, speed=source.speed, pause_s=source.interval_s, path=path
                )
        elif source.kind == "live":
            self.live = LivePrices(source.live_url)

    def delay_s(self, step: int) -> float:
        """Seconds before the tick that plays `step`: the interval, or the recorded gap."""
        if self.timing is None:
            return self.source.interval_s
        return self.timing.delay_s(step)

    async def next_price(self, spec: MarketSpec, current: Decimal, step: int) -> Decimal | None:
        if self.source.kind == "random_walk":
            raw = walk_step(self.source.seed, spec.symbol, step, current, self.source.volatility)
        elif self.csv is not None:
            found = self.csv.price(spec.symbol, step)
            if found is None:
                return None
            raw = found
        elif self.live is not None:
            found = await self.live.price(spec.symbol)
            if found is None:
                return None
            raw = found
        else:
            return None
        return max(spec.round_price(raw), spec.tick_size)

    async def aclose(self) -> None:
        if self.live is not None:
            await self.live.aclose()
