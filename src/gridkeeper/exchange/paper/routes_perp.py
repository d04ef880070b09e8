"""Perpetuals' endpoints: mark prices, funding rates, open interest and funding history.

Self-contained (its own JSON and error handling) so it plugs into `app.py` with one line.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gridkeeper.exchange.paper import payloads, perp
from gridkeeper.exchange.paper.auth import authenticate
from gridkeeper.exchange.paper.engine import EngineReject
from gridkeeper.exchange.paper.serialize import d, naive_utc
from gridkeeper.exchange.paper.service import PaperExchange

log = logging.getLogger(__name__)
Handler = Callable[[Request], Awaitable[Response]]
PAGE_HEADERS = "X-PAGE-COUNT, X-CURRENT-PAGE, X-PAGE-SIZE, X-TOTAL"


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data), status, headers=headers, media_type="application/json; charset=utf-8"
    )


def _endpoint(fn: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except EngineReject as exc:
            return _json({"code": exc.code, "message": exc.message}, exc.status)
        except Exception:
            log.exception("paper exchange request failed: %s %s", request.method, request.url)
            return _json({"code": "SERVER_ERROR", "message": "Internal server error"}, 500)

    return wrapped


def _page(params: Mapping[str, str], maximum: int) -> tuple[int, int]:
    limit = payloads.int_param(params, "limit", 100)
    offset = payloads.int_param(params, "offset", 0)
    if limit is None or offset is None or limit < 0 or offset < 0:
        raise payloads.bad_request("limit and offset must be unsigned integers")
    return max(1, min(limit, maximum)), offset


def _page_headers(total: int, limit: int, offset: int) -> dict[str, str]:
    """Backpack's pagination headers (the OpenAPI marks them required on these endpoints)."""
    return {
        "ACCESS-CONTROL-EXPOSE-HEADERS": PAGE_HEADERS,
        "X-TOTAL": str(total),
        "X-PAGE-SIZE": str(limit),
        "X-CURRENT-PAGE": str(offset // limit + 1),
        "X-PAGE-COUNT": str(-(-total // limit)),
    }


def perp_routes(ex: PaperExchange) -> list[Route]:
    engine = ex.engine

    def perp_symbols(symbol: str | None) -> list[str]:
        if symbol is not None:
            return [symbol] if engine.market(symbol).is_perp else []
        return [s for s, spec in engine.markets.items() if spec.is_perp]

    async def mark_prices(request: Request) -> Response:
        rows = []
        next_ms = ex.perps.next_funding_ms()
        for symbol in perp_symbols(request.query_params.get("symbol")):
            rows.append(
                {
                    "fundingRate": d(perp.funding_rate(ex.config.perps, engine, symbol)),
                    "indexPrice": d(engine.price(symbol)),
                    "markPrice": d(engine.mark_price(symbol)),
                    "nextFundingTimestamp": next_ms,
                    "symbol": symbol,
                }
            )
        return _json(rows)

    async def funding_rates(request: Request) -> Response:
        q = request.query_params
        symbol = q.get("symbol")
        if symbol is None:
            raise payloads.bad_request("Missing field symbol")
        engine.market(symbol)
        limit, offset = _page(q, 10000)
        found, total = ex.perps.ledger.rates(symbol, limit, offset)
        rows = [
            {
                "symbol": r.symbol,
                "intervalEndTimestamp": naive_utc(r.interval_end_ms),
                "fundingRate": d(r.rate),
            }
            for r in found
        ]
        return _json(rows, headers=_page_headers(total, limit, offset))

    async def open_interest(request: Request) -> Response:
        now = ex.clock()
        return _json(
            [
                {"symbol": s, "openInterest": d(perp.open_interest(engine, s)), "timestamp": now}
                for s in perp_symbols(request.query_params.get("symbol"))
            ]
        )

    async def funding_history(request: Request) -> Response:
        params = dict(request.query_params)
        account = authenticate(
            request.headers, "fundingHistoryQueryAll", params, ex.keys, ex.clock()
        )
        symbol = params.get("symbol")
        if symbol is not None:
            engine.market(symbol)
        direction = params.get("sortDirection", "Desc")
        if direction not in ("Asc", "Desc"):
            raise payloads.bad_request("sortDirection must be Asc or Desc")
        limit, offset = _page(params, 1000)
        found, total = ex.perps.ledger.payments(
            account, symbol, limit, offset, ascending=direction == "Asc"
        )
        rows = [
            {
                "userId": 1,
                "symbol": p.symbol,
                "quantity": d(p.quantity),
                "intervalEndTimestamp": naive_utc(p.interval_end_ms),
                "fundingRate": d(p.rate),
            }
            for p in found
        ]
        return _json(rows, headers=_page_headers(total, limit, offset))

    return [
        Route("/api/v1/markPrices", _endpoint(mark_prices)),
        Route("/api/v1/fundingRates", _endpoint(funding_rates)),
        Route("/api/v1/openInterest", _endpoint(open_interest)),
        Route("/wapi/v1/history/funding", _endpoint(funding_history)),
    ]


__all__ = ["perp_routes"]
