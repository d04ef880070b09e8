"""What every route module shares: JSON answers, Backpack's error bodies, signed requests."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gridkeeper import httpguard
from gridkeeper.exchange.paper import payloads
from gridkeeper.exchange.paper.auth import Params, authenticate
from gridkeeper.exchange.paper.engine import EngineReject
from gridkeeper.exchange.paper.public import PublicFeed
from gridkeeper.exchange.paper.service import PaperExchange

log = logging.getLogger("gridkeeper.exchange.paper.app")
Handler = Callable[[Request], Awaitable[Response]]
JSON_TYPE = "application/json; charset=utf-8"


def json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type=JSON_TYPE)


def error(code: str, message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps({"code": code, "message": message}),
        status,
        headers=headers,
        media_type=JSON_TYPE,
    )


def endpoint(fn: Handler) -> Handler:
    """Turn rejections into Backpack's `{code, message}` answers, and crashes into a 500."""

    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except EngineReject as exc:
            return error(exc.code, exc.message, exc.status)
        except Exception:
            log.exception("paper exchange request failed: %s %s", request.method, request.url)
            return error("SERVER_ERROR", "Internal server error", 500)

    return wrapped


def route(path: str, handlers: dict[str, Handler]) -> Route:
    """One route per path, dispatching on the method, so a 405 lists every allowed method."""
    table = dict(handlers)
    if "GET" in table:
        table.setdefault("HEAD", table["GET"])

    async def dispatch(request: Request) -> Response:
        return await table[request.method](request)

    return Route(path, endpoint(dispatch), methods=list(table))


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (unknown path, wrong method) as JSON instead of plain text."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error("RESOURCE_NOT_FOUND", f"Not found: {request.method} {request.url.path}", 404)
    if exc.status_code == 405:
        return error(
            "INVALID_CLIENT_REQUEST",
            f"Method {request.method} not allowed on {request.url.path}",
            405,
            headers=dict(exc.headers or {}),
        )
    return error("INVALID_CLIENT_REQUEST", str(exc.detail), exc.status_code)


async def read_body(request: Request) -> Any:
    """The JSON body within gridkeeper.httpguard's size and depth limits; `{}` when empty."""
    try:
        raw = await httpguard.read_body(request)
        if not raw:
            return {}
        return httpguard.parse_json(raw)
    except httpguard.BodyError as exc:
        message = "Invalid JSON body" if str(exc) == "the body is not JSON" else str(exc)
        raise payloads.bad_request(message) from exc


@dataclass
class Api:
    """The exchange and its public feed, as the route modules see them."""

    ex: PaperExchange
    feed: PublicFeed

    async def signed(self, request: Request, instruction: str) -> tuple[str, Any]:
        """Authenticate; return (account, params) where params are what was signed."""
        params: Any = (
            dict(request.query_params) if request.method == "GET" else await read_body(request)
        )
        signed_params: Params = params if isinstance(params, dict | list) else None
        account = authenticate(
            request.headers, instruction, signed_params, self.ex.keys, self.ex.clock()
        )
        return account, params

    async def signed_object(self, request: Request, instruction: str) -> tuple[str, dict[str, Any]]:
        account, params = await self.signed(request, instruction)
        if not isinstance(params, dict):
            raise payloads.bad_request("Expected a JSON object")
        return account, params
