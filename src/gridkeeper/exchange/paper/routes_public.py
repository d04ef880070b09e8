"""Public REST endpoints: assets, markets, tickers, depth, klines, trades, status, time, ping."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gridkeeper.exchange.paper import payloads
from gridkeeper.exchange.paper.http import Api, endpoint, json
from gridkeeper.exchange.paper.marketdata import (
    TICKER_WINDOWS_MS,
    depth_json,
    depth_limit,
    klines_json,
    ticker_json,
    trade_json,
)
from gridkeeper.exchange.paper.serialize import market_json

KLINE_PRICE_TYPES = ("Last", "Index", "Mark")
TRADES_LIMIT_MAX = 1000


def _symbol(request: Request) -> str:
    symbol = request.query_params.get("symbol")
    if not symbol:
        raise payloads.bad_request("Missing field symbol")
    return symbol


def asset_json(symbol: str) -> dict[str, Any]:
    """A `MarketAsset`: the paper exchange has no deposits or withdrawals, so both are off."""
    return {
        "symbol": symbol,
        "displayName": symbol,
        "tokens": [
            {
                "displayName": symbol,
                "blockchain": "Solana",
                "depositEnabled": False,
                "minimumDeposit": "0",
                "withdrawEnabled": False,
                "minimumWithdrawal": "0",
                "withdrawalFee": "0",
            }
        ],
    }


def public_routes(api: Api) -> list[Route]:
    ex, engine = api.ex, api.ex.engine

    async def health(request: Request) -> Response:
        return json({"status": "ok", "markets": len(engine.markets)})

    async def assets(request: Request) -> Response:
        symbols = sorted({a for m in engine.markets.values() for a in (m.base, m.quote)})
        return json([asset_json(s) for s in symbols])

    async def markets(request: Request) -> Response:
        wanted = request.query_params.getlist("marketType")
        for kind in wanted:
            payloads.choice_param({"marketType": kind}, "marketType", payloads.MARKET_TYPES)
        return json(
            [
                market_json(m)
                for m in engine.markets.values()
                if not wanted or m.market_type in wanted
            ]
        )

    async def market(request: Request) -> Response:
        return json(market_json(engine.market(_symbol(request))))

    async def securities(request: Request) -> Response:
        # Not in Backpack's OpenAPI, but ccxt's load_markets asks for it: no tokenized stocks.
        return json([])

    def _interval(request: Request) -> str:
        value = payloads.choice_param(
            request.query_params, "interval", tuple(TICKER_WINDOWS_MS), "1d"
        )
        assert value is not None
        return value

    async def ticker(request: Request) -> Response:
        symbol = _symbol(request)
        engine.market(symbol)
        interval = _interval(request)
        return json(
            ticker_json(
                symbol,
                engine.price(symbol),
                ex.history,
                ex.clock(),
                interval=interval,
                trades=api.feed.recent(symbol),
            )
        )

    async def tickers(request: Request) -> Response:
        now, interval = ex.clock(), _interval(request)
        return json(
            [
                ticker_json(
                    s,
                    engine.price(s),
                    ex.history,
                    now,
                    interval=interval,
                    trades=api.feed.recent(s),
                )
                for s in engine.markets
            ]
        )

    async def depth(request: Request) -> Response:
        spec = engine.market(_symbol(request))
        limit = depth_limit(request.query_params.get("limit"))
        update_id = api.feed.update_ids.get(spec.symbol, 0)
        book = depth_json(
            spec,
            engine.price(spec.symbol),
            ex.clock(),
            limit,
            update_id,
            engine.liquidity,
            engine.taken(spec.symbol),
        )
        return json(book)

    async def klines(request: Request) -> Response:
        q = request.query_params
        symbol = _symbol(request)
        engine.market(symbol)
        interval = q.get("interval")
        if not interval:
            raise payloads.bad_request("Missing field interval")
        start = payloads.int_param(q, "startTime")
        if start is None:
            raise payloads.bad_request("Missing field startTime")
        end = payloads.int_param(q, "endTime", ex.clock() // 1000)
        assert end is not None
        # Mark and index prices are the last price until a separate mark exists.
        payloads.choice_param(q, "priceType", KLINE_PRICE_TYPES)
        trades = api.feed.recent(symbol)
        return json(klines_json(symbol, interval, start, end, ex.history, trades))

    async def trades(request: Request) -> Response:
        symbol = _symbol(request)
        engine.market(symbol)
        limit = payloads.uint_param(request.query_params, "limit", TRADES_LIMIT_MAX, 100)
        assert limit is not None
        recent = api.feed.recent(symbol)
        return json([trade_json(t) for t in recent[-limit:]] if limit else [])

    async def trades_history(request: Request) -> Response:
        symbol = _symbol(request)
        engine.market(symbol)
        q = request.query_params
        limit = payloads.uint_param(q, "limit", TRADES_LIMIT_MAX, 100)
        offset = payloads.uint_param(q, "offset", 2**63, 0)
        assert limit is not None and offset is not None
        newest_first = api.feed.recent(symbol)[::-1]
        return json([trade_json(t) for t in newest_first[offset : offset + limit]])

    async def server_time(request: Request) -> Response:
        return Response(str(ex.clock()), media_type="text/plain; charset=utf-8")

    async def ping(request: Request) -> Response:
        return Response("pong", media_type="text/plain; charset=utf-8")

    async def status(request: Request) -> Response:
        return json({"status": "Ok"})

    get = ["GET"]
    return [
        Route("/health", endpoint(health), methods=get),
        Route("/api/v1/assets", endpoint(assets), methods=get),
        Route("/api/v1/markets", endpoint(markets), methods=get),
        Route("/api/v1/market", endpoint(market), methods=get),
        Route("/api/v1/securities", endpoint(securities), methods=get),
        Route("/api/v1/ticker", endpoint(ticker), methods=get),
        Route("/api/v1/tickers", endpoint(tickers), methods=get),
        Route("/api/v1/depth", endpoint(depth), methods=get),
        Route("/api/v1/klines", endpoint(klines), methods=get),
        Route("/api/v1/trades", endpoint(trades), methods=get),
        Route("/api/v1/trades/history", endpoint(trades_history), methods=get),
        Route("/api/v1/time", endpoint(server_time), methods=get),
        Route("/api/v1/status", endpoint(status), methods=get),
        Route("/api/v1/ping", endpoint(ping), methods=get),
    ]
