"""What `gridkeeper new` reads from the exchange: markets, price, recent klines, balances."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson

from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.models import Market

KLINE_HOURS = 72
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Snapshot:
    price: Decimal
    klines: list[dict[str, Any]]
    balances: dict[str, Decimal] | None  # None: no keys to read them with
    initial_margin: Decimal | None  # perps: the market's initial margin fraction


def keys(exchange: str, home: Path) -> tuple[str, str] | None:
    """Read-only use of the account: the paper demo account, or $BACKPACK_KEY/$BACKPACK_SECRET."""
    if exchange == "paper":
        path = home / "paper" / "demo-account.json"
        try:
            data = orjson.loads(path.read_bytes())
            return str(data["api_key"]), str(data["api_secret"])
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
            return None
    key, secret = os.environ.get("BACKPACK_KEY"), os.environ.get("BACKPACK_SECRET")
    return (key, secret) if key and secret else None


def markets(url: str, creds: tuple[str, str] | None) -> list[Market]:
    """Every spot and perp market (with the account's fees when there are keys)."""

    async def go() -> list[Market]:
        async with _client(url, creds) as client:
            return await client.get_markets()

    return asyncio.run(go())


def snapshot(url: str, market: Market, creds: tuple[str, str] | None) -> Snapshot:
    async def go() -> Snapshot:
        async with _client(url, creds) as client:
            ticker = await client.get_ticker(market.symbol)
            start = int(time.time()) - KLINE_HOURS * 3600
            klines = await client.get_klines(market.symbol, "1h", start)
            balances = None
            if creds is not None:
                balances = {a: b.available for a, b in (await client.get_balances()).items()}
        return Snapshot(ticker.last_price, klines, balances, _initial_margin(url, market))

    return asyncio.run(go())


def _initial_margin(url: str, market: Market) -> Decimal | None:
    """The market's initial margin fraction (imfFunction.base), which the Market model omits."""
    if market.market_type != "PERP":
        return None
    raw = httpx.get(f"{url}/api/v1/markets", timeout=TIMEOUT_S).json()
    for item in raw:
        if item.get("symbol") == market.symbol:
            base = (item.get("imfFunction") or {}).get("base")
            return Decimal(str(base)) if base else None
    return None


def _client(url: str, creds: tuple[str, str] | None) -> BackpackClient:
    key, secret = creds if creds else (None, None)
    return BackpackClient(url, key, secret, timeout_s=TIMEOUT_S, max_retries=1)
