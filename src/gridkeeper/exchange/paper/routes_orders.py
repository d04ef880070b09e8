"""Signed order endpoints: execute (one, batch), query, cancel, cancel-all, order/fill history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gridkeeper.exchange.paper import payloads
from gridkeeper.exchange.paper.book import BookFill, BookOrder
from gridkeeper.exchange.paper.engine import EngineReject
from gridkeeper.exchange.paper.http import Api, error, json, log, route
from gridkeeper.exchange.paper.serialize import fill_json, order_json

HISTORY_LIMIT_MAX = 1000
SORT_DIRECTIONS = ("Asc", "Desc")
# Fill types other than User are liquidation or conversion fills: the paper exchange has none.
FILL_TYPES = (
    "User",
    "BookLiquidation",
    "Adl",
    "Backstop",
    "Liquidation",
    "AllLiquidation",
    "CollateralConversion",
    "CollateralConversionAndSpotLiquidation",
)


def order_routes(api: Api) -> list[Route]:
    ex, engine = api.ex, api.ex.engine

    def place(acct: str, item: object) -> BookOrder:
        symbol = item.get("symbol") if isinstance(item, dict) else None
        spec = engine.markets.get(symbol) if isinstance(symbol, str) else None
        last = engine.prices.get(symbol) if isinstance(symbol, str) else None
        req = payloads.order_input(item, spec, last)
        return ex.run(lambda now: engine.place(acct, req, now))

    async def order_execute(request: Request) -> Response:
        acct, body = await api.signed_object(request, "orderExecute")
        return json(order_json(place(acct, body)))

    async def orders_execute(request: Request) -> Response:
        acct, body = await api.signed(request, "orderExecute")
        if not isinstance(body, list):
            raise payloads.bad_request("Expected an array of orders")
        # One answer per order, whatever befalls each: once an order has executed, a 500 for
        # the whole batch would tell the client none did (and its retry places them twice).
        results: list[dict[str, Any]] = []
        for item in body:
            try:
                results.append({"operation": "Ok", **order_json(place(acct, item))})
            except EngineReject as exc:
                results.append({"operation": "Err", "code": exc.code, "message": exc.message})
            except Exception:
                log.exception("paper exchange: batch order failed: %r", item)
                results.append(
                    {"operation": "Err", "code": "SERVER_ERROR", "message": "Internal server error"}
                )
        return json(results)

    async def order_cancel(request: Request) -> Response:
        acct, body = await api.signed_object(request, "orderCancel")
        symbol, order_id, client_id = payloads.cancel_target(body, query=False)
        order = ex.cancel(acct, symbol, order_id, client_id)
        # None: the cancel is pending (unkind.cancel_delay_ms) — Backpack answers 202, no body.
        return json(order_json(order)) if order else Response(status_code=202)

    async def order_query(request: Request) -> Response:
        acct, params = await api.signed_object(request, "orderQuery")
        symbol, order_id, client_id = payloads.cancel_target(params, query=True)
        engine.market(symbol)
        order = engine.find_open(acct, symbol, order_id, client_id)
        if order is None:
            return error("RESOURCE_NOT_FOUND", "Order not found", 404)
        return json(order_json(order))

    async def orders_query(request: Request) -> Response:
        acct, params = await api.signed_object(request, "orderQueryAll")
        symbol = params.get("symbol") or None
        market_type = payloads.choice_param(params, "marketType", payloads.MARKET_TYPES)
        return json(
            [
                order_json(o)
                for o in engine.open_orders(acct, symbol)
                if market_type is None or engine.markets[o.symbol].market_type == market_type
            ]
        )

    async def orders_cancel(request: Request) -> Response:
        acct, body = await api.signed_object(request, "orderCancelAll")
        symbol = payloads.string_field(body, "symbol", required=True)
        kind = payloads.string_field(body, "orderType", choices=payloads.CANCEL_ORDER_TYPES)
        assert symbol is not None
        if kind == "ConditionalOrder":  # the paper exchange holds no trigger orders
            engine.market(symbol)
            return json([])
        cancelled = ex.run(lambda now: engine.cancel_all(acct, symbol, now))
        return json([order_json(o) for o in cancelled])

    def _symbols(request: Request, params: Mapping[str, str]) -> list[str | None]:
        """The symbols a history query covers: one, all (None), or those of `marketType`s."""
        symbol = params.get("symbol") or None
        types = request.query_params.getlist("marketType")
        for kind in types:
            payloads.choice_param({"marketType": kind}, "marketType", payloads.MARKET_TYPES)
        if not types:
            return [symbol]
        matching = [s for s, m in engine.markets.items() if m.market_type in types]
        return [s for s in matching if symbol is None or s == symbol]

    def _page(params: Mapping[str, str]) -> tuple[int, int, bool]:
        limit = payloads.uint_param(params, "limit", HISTORY_LIMIT_MAX, 100)
        offset = payloads.uint_param(params, "offset", 2**63, 0)
        direction = payloads.choice_param(params, "sortDirection", SORT_DIRECTIONS, "Desc")
        assert limit is not None and offset is not None
        return limit, offset, direction == "Asc"

    async def history_orders(request: Request) -> Response:
        acct, params = await api.signed_object(request, "orderHistoryQueryAll")
        limit, offset, ascending = _page(params)
        if params.get("strategyId"):
            return json([])  # no strategies on the paper exchange
        # The store pages newest first: each symbol's newest `offset + limit` suffice to page
        # their merge newest first; oldest first needs them all.
        window = 2**31 if ascending else offset + limit
        found: list[BookOrder] = []
        for symbol in _symbols(request, params):
            found += ex.store.order_history(acct, symbol, params.get("orderId"), window, 0)
        found.sort(key=lambda o: int(o.id), reverse=not ascending)
        return json([order_json(o, history=True) for o in found[offset : offset + limit]])

    async def history_fills(request: Request) -> Response:
        acct, params = await api.signed_object(request, "fillHistoryQueryAll")
        limit, offset, ascending = _page(params)
        fill_type = payloads.choice_param(params, "fillType", FILL_TYPES)
        if params.get("strategyId") or fill_type not in (None, "User"):
            return json([])  # only user fills exist here: no strategies, no liquidations
        found: list[BookFill] = []
        for symbol in _symbols(request, params):
            found += ex.store.fills(
                acct,
                symbol=symbol,
                order_id=params.get("orderId"),
                from_ms=payloads.int_param(params, "from"),
                to_ms=payloads.int_param(params, "to"),
                limit=offset + limit,
                offset=0,
                ascending=ascending,
            )
        found.sort(key=lambda f: (f.timestamp_ms, f.trade_id), reverse=not ascending)
        return json([fill_json(f) for f in found[offset : offset + limit]])

    return [
        route(
            "/api/v1/order",
            {"POST": order_execute, "DELETE": order_cancel, "GET": order_query},
        ),
        route(
            "/api/v1/orders",
            {"POST": orders_execute, "DELETE": orders_cancel, "GET": orders_query},
        ),
        route("/wapi/v1/history/orders", {"GET": history_orders}),
        route("/wapi/v1/history/fills", {"GET": history_fills}),
    ]
