"""The Backpack REST client: the same code talks to the real exchange and to the paper one.

Reads and cancels are retried on timeouts, 429 (after its Retry-After) and 5xx. An order POST is
never retried here: a refusal raises RejectedError, a timeout or dropped connection raises
UnknownOutcomeError (look the order up with `find_order(symbol, client_id=...)` first).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

import httpx
import orjson

from gridkeeper import backoff
from gridkeeper.exchange import signing
from gridkeeper.exchange.errors import (
    AuthError,
    RejectedError,
    RetryableError,
    UnknownOutcomeError,
    error_from_response,
)
from gridkeeper.exchange.models import (
    Balance,
    Market,
    Position,
    Ticker,
    dec,
)
from gridkeeper.exchange.order_calls import OrderCalls

Kind = Literal["read", "cancel", "order"]
BPS = Decimal(10000)
BACKOFF_INITIAL_S = 0.2
BACKOFF_MAX_S = 10.0
KEEPALIVE_S = 4.0


class BackpackClient(OrderCalls):
    """Backpack's REST API: signing and retries here, the order calls in order_calls.py."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        api_secret: str | None,
        *,
        window_ms: int = signing.DEFAULT_WINDOW_MS,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if api_secret and not api_key:
            api_key = signing.public_key_of(api_secret)
        self.api_key = api_key
        self._secret = api_secret
        self.window_ms = window_ms
        self.max_retries = max_retries
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout_s,
            transport=transport,
            # Below common server keep-alive timeouts (uvicorn: 5 s) so a pooled connection is
            # not reused just as the server closes it: that race turns an order POST into an
            # UnknownOutcomeError for nothing.
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_S),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        self._markets: dict[str, Market] | None = None

    @classmethod
    def from_config(cls, config: Any) -> BackpackClient:
        """From an `ExchangeConfig` (gridkeeper.config.exchange)."""
        key = config.api_key.get_secret_value() if config.api_key else None
        secret = config.api_secret.get_secret_value() if config.api_secret else None
        return cls(
            config.base_url,
            key,
            secret,
            window_ms=config.window_ms,
            timeout_s=config.timeout_s,
            max_retries=config.max_retries,
        )

    async def __aenter__(self) -> BackpackClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport ---------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        instruction: str | None = None,
        params: Mapping[str, object] | None = None,
        body: Mapping[str, object] | Sequence[Mapping[str, object]] | None = None,
        kind: Kind = "read",
    ) -> Any:
        attempt = 0
        while True:
            try:
                return await self._once(method, path, instruction, params, body, kind)
            except RetryableError as exc:
                if kind == "order" or attempt >= self.max_retries:
                    raise
                delay = exc.retry_after_s
                if delay is None:
                    delay = backoff.delay(attempt, BACKOFF_INITIAL_S, BACKOFF_MAX_S)
                    delay *= random.uniform(0.8, 1.2)
                attempt += 1
                await self._sleep(delay)

    async def _once(
        self,
        method: str,
        path: str,
        instruction: str | None,
        params: Mapping[str, object] | None,
        body: Mapping[str, object] | Sequence[Mapping[str, object]] | None,
        kind: Kind,
    ) -> Any:
        query = {k: signing.format_value(v) for k, v in (params or {}).items() if v is not None}
        headers: dict[str, str] = {}
        if instruction is not None:
            if not self._secret or not self.api_key:
                raise AuthError("UNAUTHORIZED", f"{instruction} needs an API key and secret")
            signed: Any = body if body is not None else query
            headers = signing.sign_request(
                instruction,
                signed,
                self._secret,
                time.time_ns() // 1_000_000,
                self.window_ms,
                api_key=self.api_key,
            )
        content = orjson.dumps(body) if body is not None else None
        try:
            response = await self._http.request(
                method, path, params=query or None, content=content, headers=headers
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the exchange: safe to send again, even an order.
            raise RetryableError("CONNECT", f"{method} {path}: {exc!r}") from exc
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            if kind == "order":
                raise UnknownOutcomeError(
                    "TIMEOUT", f"{method} {path}: no answer ({exc!r}); look the order up"
                ) from exc
            raise RetryableError("TIMEOUT", f"{method} {path}: {exc!r}") from exc
        if response.status_code >= 400:
            raise error_from_response(
                response.status_code, response.content, response.headers, order_post=kind == "order"
            )
        if not response.content:
            return None
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return response.text

    # -- public market data ------------------------------------------------------------------

    async def get_markets(self) -> list[Market]:
        data = await self._call("GET", "/api/v1/markets")
        fees = await self._fees()
        markets = []
        for item in data:
            if item.get("marketType") not in ("SPOT", "PERP"):
                continue
            maker, taker = fees["PERP" if item["marketType"] == "PERP" else "SPOT"]
            markets.append(Market.from_api(item, maker_fee=maker, taker_fee=taker))
        self._markets = {m.symbol: m for m in markets}
        return markets

    async def get_market(self, symbol: str) -> Market:
        if self._markets is None or symbol not in self._markets:
            await self.get_markets()
        assert self._markets is not None
        market = self._markets.get(symbol)
        if market is None:
            raise RejectedError("INVALID_SYMBOL", f"market {symbol} not found")
        return market

    async def _fees(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Fee rates (fractions) by market type from the account; zero without keys."""
        zero = (Decimal(0), Decimal(0))
        if not self._secret:
            return {"SPOT": zero, "PERP": zero}
        acct = await self._call("GET", "/api/v1/account", instruction="accountQuery")
        return {
            "SPOT": (dec(acct["spotMakerFee"]) / BPS, dec(acct["spotTakerFee"]) / BPS),
            "PERP": (dec(acct["futuresMakerFee"]) / BPS, dec(acct["futuresTakerFee"]) / BPS),
        }

    async def get_ticker(self, symbol: str) -> Ticker:
        data = await self._call("GET", "/api/v1/ticker", params={"symbol": symbol})
        return Ticker(
            symbol=data["symbol"],
            last_price=dec(data["lastPrice"]),
            timestamp_ms=time.time_ns() // 1_000_000,
        )

    async def get_mark_price(self, symbol: str) -> Decimal | None:
        """A perp's mark price (`GET /api/v1/markPrices`), at full precision; None if unknown."""
        data = await self._call("GET", "/api/v1/markPrices", params={"symbol": symbol})
        for item in data or []:
            if item.get("symbol") == symbol and item.get("markPrice") is not None:
                mark: Decimal = dec(item["markPrice"])
                return mark
        return None

    async def get_depth(self, symbol: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/api/v1/depth", params={"symbol": symbol})
        return result

    async def get_klines(
        self, symbol: str, interval: str, start_s: int, end_s: int | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, object] = {"symbol": symbol, "interval": interval, "startTime": start_s}
        if end_s is not None:
            params["endTime"] = end_s
        result: list[dict[str, Any]] = await self._call("GET", "/api/v1/klines", params=params)
        return result

    # -- account -----------------------------------------------------------------------------

    async def get_balances(self) -> dict[str, Balance]:
        data = await self._call("GET", "/api/v1/capital", instruction="balanceQuery")
        return {
            asset: Balance(asset, dec(v["available"]), dec(v["locked"]))
            for asset, v in data.items()
        }

    async def get_collateral(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "GET", "/api/v1/capital/collateral", instruction="collateralQuery"
        )
        return result

    async def get_positions(self, symbol: str | None = None) -> list[Position]:
        try:
            data = await self._call(
                "GET", "/api/v1/position", instruction="positionQuery", params={"symbol": symbol}
            )
        except RejectedError as exc:
            if exc.status == 404:
                return []  # Backpack answers 404 when the account is flat
            raise
        return [Position.from_api(item) for item in data]
