"""The HTTP and websocket face of the paper exchange: Backpack's paths, shapes and errors."""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from gridkeeper.exchange.paper import payloads
from gridkeeper.exchange.paper.auth import Params, authenticate
from gridkeeper.exchange.paper.engine import EngineReject
from gridkeeper.exchange.paper.marketdata import depth_json, klines_json, ticker_json
from gridkeeper.exchange.paper.ratelimit import rate_limit
from gridkeeper.exchange.paper.routes_perp import perp_routes
from gridkeeper.exchange.paper.serialize import (
    d,
    fill_json,
    market_json,
    order_json,
    position_json,
)
from gridkeeper.exchange.paper.service import PaperExchange
from gridkeeper.exchange.paper.ws import order_stream_endpoint

log = logging.getLogger(__name__)
Handler = Callable[[Request], Awaitable[Response]]


def json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json; charset=utf-8")


def error(code: str, message: str, status: int) -> Response:
    return json({"code": code, "message": message}, status)


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise payloads.bad_request("Invalid JSON body") from exc


def build_app(ex: PaperExchange) -> Starlette:
    engine = ex.engine

    def endpoint(fn: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            try:
                return await fn(request)
            except EngineReject as exc:
                return error(exc.code, exc.message, exc.status)
            except Exception:
                log.exception("paper exchange request failed: %s %s", request.method, request.url)
                return error("SERVER_ERROR", "Internal server error", 500)

        return wrapped

    async def signed(request: Request, instruction: str) -> tuple[str, Any]:
        """Authenticate; return (account, params) where params are what was signed."""
        params: Any = (
            dict(request.query_params) if request.method == "GET" else await _body(request)
        )
        signed_params: Params = params if isinstance(params, dict | list) else None
        account = authenticate(request.headers, instruction, signed_params, ex.keys, ex.clock())
        return account, params

    def symbol_of(params: Mapping[str, Any], required: bool = True) -> str | None:
        symbol = params.get("symbol")
        if symbol is None and required:
            raise payloads.bad_request("Missing field symbol")
        return None if symbol is None else str(symbol)

    # -- public ----------------------------------------------------------------------------

    async def health(request: Request) -> Response:
        return json({"status": "ok", "markets": len(engine.markets)})

    async def markets(request: Request) -> Response:
        return json([market_json(m) for m in engine.markets.values()])

    async def market(request: Request) -> Response:
        return json(market_json(engine.market(request.query_params.get("symbol", ""))))

    async def ticker(request: Request) -> Response:
        symbol = request.query_params.get("symbol", "")
        engine.market(symbol)
        return json(ticker_json(symbol, engine.price(symbol), ex.history, ex.clock()))

    async def tickers(request: Request) -> Response:
        now = ex.clock()
        return json([ticker_json(s, engine.price(s), ex.history, now) for s in engine.markets])

    async def depth(request: Request) -> Response:
        spec = engine.market(request.query_params.get("symbol", ""))
        return json(depth_json(spec, engine.price(spec.symbol), ex.clock()))

    async def klines(request: Request) -> Response:
        q = request.query_params
        symbol = q.get("symbol", "")
        engine.market(symbol)
        start = payloads.int_param(q, "startTime")
        if start is None:
            raise payloads.bad_request("Missing field startTime")
        end = payloads.int_param(q, "endTime", ex.clock() // 1000)
        assert end is not None
        return json(klines_json(symbol, q.get("interval", ""), start, end, ex.history))

    async def server_time(request: Request) -> Response:
        return Response(str(ex.clock()), media_type="text/plain")

    async def ping(request: Request) -> Response:
        return Response("pong", media_type="text/plain")

    async def status(request: Request) -> Response:
        return json({"status": "Ok", "message": None})

    # -- account ---------------------------------------------------------------------------

    async def account(request: Request) -> Response:
        await signed(request, "accountQuery")
        return json(ex.account_summary())

    async def capital(request: Request) -> Response:
        acct, _ = await signed(request, "balanceQuery")
        return json(
            {
                asset: {"available": d(b.available), "locked": d(b.locked), "staked": "0"}
                for (owner, asset), b in sorted(engine.balances.items())
                if owner == acct
            }
        )

    async def collateral(request: Request) -> Response:
        acct, _ = await signed(request, "collateralQuery")
        equity = engine.equity(acct)
        unrealized = sum(
            (p.unrealized(engine.mark_price(s)) for s, p in engine.account_positions(acct)),
            Decimal(0),
        )
        rows = []
        for (owner, asset), b in sorted(engine.balances.items()):
            if owner != acct:
                continue
            mark = engine.asset_price(asset)
            total = b.available + b.locked
            rows.append(
                {
                    "symbol": asset,
                    "assetMarkPrice": d(mark),
                    "totalQuantity": d(total),
                    "balanceNotional": d(total * mark),
                    "collateralWeight": "1",
                    "collateralValue": d(total * mark),
                    "openOrderQuantity": d(b.locked),
                    "lendQuantity": "0",
                    "availableQuantity": d(b.available),
                }
            )
        exposure = sum(
            (abs(p.net_quantity) * engine.mark_price(s) for s, p in engine.account_positions(acct)),
            Decimal(0),
        )
        return json(
            {
                "assetsValue": d(equity - unrealized),
                "borrowLiability": "0",
                "collateral": rows,
                "imf": "0.1",
                "unsettledEquity": d(unrealized),
                "liabilitiesValue": "0",
                "marginFraction": d(equity / exposure) if exposure else None,
                "mmf": "0.05",
                "netEquity": d(equity),
                "netEquityAvailable": d(equity),
                "netEquityLocked": "0",
                "netExposureFutures": d(exposure),
                "pnlUnrealized": d(unrealized),
            }
        )

    async def position(request: Request) -> Response:
        acct, params = await signed(request, "positionQuery")
        symbol = symbol_of(params, required=False)
        rows = [
            position_json(engine.markets[s], p, engine.mark_price(s), i)
            for i, (s, p) in enumerate(engine.account_positions(acct), start=1)
            if symbol is None or s == symbol
        ]
        if symbol is not None and not rows:
            return error("RESOURCE_NOT_FOUND", "Position not found", 404)
        return json(rows)

    # -- orders ----------------------------------------------------------------------------

    async def order_execute(request: Request) -> Response:
        acct, body = await signed(request, "orderExecute")
        req = payloads.order_input(body, engine.prices.get(str(body.get("symbol"))))
        order = ex.run(lambda now: engine.place(acct, req, now))
        return json(order_json(order))

    async def orders_execute(request: Request) -> Response:
        acct, body = await signed(request, "orderExecute")
        if not isinstance(body, list):
            raise payloads.bad_request("Expected an array of orders")
        results: list[dict[str, Any]] = []
        for item in body:
            try:
                symbol = str(item.get("symbol")) if isinstance(item, dict) else ""
                req = payloads.order_input(item, engine.prices.get(symbol))
                order = ex.run(lambda now, r=req: engine.place(acct, r, now))  # type: ignore[misc]
                results.append({"operation": "Ok", **order_json(order)})
            except EngineReject as exc:
                results.append({"operation": "Err", "code": exc.code, "message": exc.message})
        return json(results)

    def _target(params: Mapping[str, Any]) -> tuple[str, str | None, int | None]:
        symbol = symbol_of(params)
        assert symbol is not None
        order_id = params.get("orderId")
        client_id = payloads.client_id_field(params.get("clientId"))
        if (order_id is None) == (client_id is None):
            raise payloads.bad_request("Exactly one of orderId and clientId is required")
        return symbol, None if order_id is None else str(order_id), client_id

    async def order_cancel(request: Request) -> Response:
        acct, body = await signed(request, "orderCancel")
        symbol, order_id, client_id = _target(body)
        order = ex.cancel(acct, symbol, order_id, client_id)
        return json(order_json(order)) if order else Response(status_code=202)

    async def order_query(request: Request) -> Response:
        acct, params = await signed(request, "orderQuery")
        symbol, order_id, client_id = _target(params)
        engine.market(symbol)
        order = engine.find_open(acct, symbol, order_id, client_id)
        if order is None:
            return error("RESOURCE_NOT_FOUND", "Order not found", 404)
        return json(order_json(order))

    async def orders_query(request: Request) -> Response:
        acct, params = await signed(request, "orderQueryAll")
        symbol = symbol_of(params, required=False)
        return json([order_json(o) for o in engine.open_orders(acct, symbol)])

    async def orders_cancel(request: Request) -> Response:
        acct, body = await signed(request, "orderCancelAll")
        symbol = symbol_of(body)
        assert symbol is not None
        cancelled = ex.run(lambda now: engine.cancel_all(acct, symbol, now))
        return json([order_json(o) for o in cancelled])

    def _page(params: Mapping[str, str]) -> tuple[int, int]:
        limit = payloads.int_param(params, "limit", 100) or 100
        offset = payloads.int_param(params, "offset", 0) or 0
        return max(1, min(limit, 1000)), max(0, offset)

    async def history_orders(request: Request) -> Response:
        acct, params = await signed(request, "orderHistoryQueryAll")
        limit, offset = _page(params)
        found = ex.store.order_history(
            acct, params.get("symbol"), params.get("orderId"), limit, offset
        )
        return json([order_json(o, history=True) for o in found])

    async def history_fills(request: Request) -> Response:
        acct, params = await signed(request, "fillHistoryQueryAll")
        limit, offset = _page(params)
        found = ex.store.fills(
            acct,
            symbol=params.get("symbol"),
            order_id=params.get("orderId"),
            from_ms=payloads.int_param(params, "from"),
            to_ms=payloads.int_param(params, "to"),
            limit=limit,
            offset=offset,
            ascending=params.get("sortDirection") == "Asc",
        )
        return json([fill_json(f) for f in found])

    # -- admin -----------------------------------------------------------------------------

    def _admin(request: Request) -> None:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {ex.admin_token}".encode()):
            raise EngineReject("UNAUTHORIZED", "Bearer token required", 401)

    async def admin_price(request: Request) -> Response:
        _admin(request)
        body = await _body(request)
        symbol = str(body.get("symbol", ""))
        spec = engine.market(symbol)
        price = payloads.decimal_field(body, "price", required=True)
        assert price is not None
        if price <= 0 or price % spec.tick_size != 0:
            raise EngineReject("INVALID_PRICE", f"Price must be a multiple of {spec.tick_size}")
        fills = ex.set_price(symbol, price)
        return json({"symbol": symbol, "price": d(price), "fills": fills})

    async def admin_drop_streams(request: Request) -> Response:
        _admin(request)
        return json({"dropped": ex.hub.drop_all()})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await ex.start_ticker()
        try:
            yield
        finally:
            await ex.aclose()

    routes = [
        Route("/health", endpoint(health)),
        Route("/api/v1/markets", endpoint(markets)),
        Route("/api/v1/market", endpoint(market)),
        Route("/api/v1/ticker", endpoint(ticker)),
        Route("/api/v1/tickers", endpoint(tickers)),
        Route("/api/v1/depth", endpoint(depth)),
        Route("/api/v1/klines", endpoint(klines)),
        Route("/api/v1/time", endpoint(server_time)),
        Route("/api/v1/status", endpoint(status)),
        Route("/api/v1/ping", endpoint(ping)),
        Route("/api/v1/account", endpoint(account)),
        Route("/api/v1/capital", endpoint(capital)),
        Route("/api/v1/capital/collateral", endpoint(collateral)),
        Route("/api/v1/position", endpoint(position)),
        Route("/api/v1/order", endpoint(order_execute), methods=["POST"]),
        Route("/api/v1/order", endpoint(order_cancel), methods=["DELETE"]),
        Route("/api/v1/order", endpoint(order_query), methods=["GET"]),
        Route("/api/v1/orders", endpoint(orders_execute), methods=["POST"]),
        Route("/api/v1/orders", endpoint(orders_query), methods=["GET"]),
        Route("/api/v1/orders", endpoint(orders_cancel), methods=["DELETE"]),
        Route("/wapi/v1/history/orders", endpoint(history_orders)),
        Route("/wapi/v1/history/fills", endpoint(history_fills)),
        Route("/_paper/price", endpoint(admin_price), methods=["POST"]),
        Route("/_paper/drop-streams", endpoint(admin_drop_streams), methods=["POST"]),
        WebSocketRoute("/ws", order_stream_endpoint(ex)),
        *perp_routes(ex),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=rate_limit(ex.config))


__all__ = ["build_app"]
