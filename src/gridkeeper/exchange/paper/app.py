"""The HTTP and websocket face of the paper exchange: Backpack's paths, shapes and errors.

Routes live in `routes_public.py`, `routes_account.py` and `routes_orders.py`; this module adds
the admin endpoints, the websocket, JSON 404/405 answers, and wires the public feed (public
trades and market streams) to the exchange's price and order-update hooks.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from gridkeeper.exchange.paper import payloads
from gridkeeper.exchange.paper.engine import EngineReject
from gridkeeper.exchange.paper.http import Api, endpoint, http_error, json, read_body
from gridkeeper.exchange.paper.public import PublicFeed
from gridkeeper.exchange.paper.ratelimit import rate_limit
from gridkeeper.exchange.paper.routes_account import account_routes
from gridkeeper.exchange.paper.routes_orders import order_routes
from gridkeeper.exchange.paper.routes_perp import perp_routes
from gridkeeper.exchange.paper.routes_public import public_routes
from gridkeeper.exchange.paper.rules import is_multiple
from gridkeeper.exchange.paper.serialize import d
from gridkeeper.exchange.paper.service import PaperExchange
from gridkeeper.exchange.paper.ws import order_stream_endpoint
from gridkeeper.httpguard import HostGuard


def build_app(ex: PaperExchange) -> Starlette:
    api = Api(ex, PublicFeed(ex))
    engine = ex.engine

    def _admin(request: Request) -> None:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {ex.admin_token}".encode()):
            raise EngineReject("UNAUTHORIZED", "Bearer token required", 401)

    async def admin_price(request: Request) -> Response:
        _admin(request)
        body = await read_body(request)
        if not isinstance(body, dict):
            raise payloads.bad_request("Expected a JSON object")
        symbol = str(body.get("symbol", ""))
        spec = engine.market(symbol)
        price = payloads.decimal_field(body, "price", required=True)
        assert price is not None
        if price <= 0 or not is_multiple(price, spec.tick_size):
            raise EngineReject("INVALID_PRICE", f"Price must be a multiple of {spec.tick_size}")
        fills = ex.set_price(symbol, price)
        return json({"symbol": symbol, "price": d(price), "fills": fills})

    async def admin_stats(request: Request) -> Response:
        _admin(request)
        return json({"rate_limited": 0, "rate_limited_orders": 0, **ex.stats})

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

    routes: list[BaseRoute] = [
        *public_routes(api),
        *account_routes(api),
        *order_routes(api),
        *perp_routes(ex),
        Route("/_paper/price", endpoint(admin_price), methods=["POST"]),
        Route("/_paper/drop-streams", endpoint(admin_drop_streams), methods=["POST"]),
        Route("/_paper/stats", endpoint(admin_stats), methods=["GET"]),
        WebSocketRoute("/ws", order_stream_endpoint(ex)),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
        # The Host check first: a rebinding page must not even count against the rate limit.
        middleware=[Middleware(HostGuard), *rate_limit(ex.config, ex.keys, ex.stats)],
    )


__all__ = ["build_app"]
