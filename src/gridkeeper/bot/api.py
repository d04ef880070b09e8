"""The bot's control API (starlette), served on 127.0.0.1:<web_port> in the bot's own loop.

Every endpoint except `/health` needs `Authorization: Bearer <home>/tokens/<instance>.token`
(reads too: balances, position and PnL are nobody else's business), and every request must
carry a loopback `Host` (DNS rebinding; see gridkeeper.httpguard). Bad input is a 400 that names
the field, and nothing is changed by a request that fails validation.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from gridkeeper.bot.api_schema import OPENAPI
from gridkeeper.bot.asgi import Handler, JSONResponse, Request, Router
from gridkeeper.bot.grid import GridError
from gridkeeper.bot.params import MAX_GRID_NUM
from gridkeeper.bot.runner import BotRunner
from gridkeeper.bot.strategy import PositionChoice
from gridkeeper.exchange.errors import ExchangeError
from gridkeeper.httpguard import BodyError, HostGuard, read_json

ADJUST_FIELDS = ("grid_lower_price", "grid_upper_price", "grid_num")
# Short names the dashboard, Telegram and `grid adjust` send ({"lower": "120", "upper": "140"}).
STOP_FIELDS = ("cancel_orders", "flatten")
ADJUST_ALIASES = {"lower": "grid_lower_price", "upper": "grid_upper_price", "num": "grid_num"}
MAX_PRICE = Decimal("1e12")  # no market trades above this; bigger input is a typo


def token_path(home: Path, instance: str) -> Path:
    return home / "tokens" / f"{instance}.token"


def ensure_token(home: Path, instance: str) -> str:
    """The instance's bearer token, created 0600 at first start and kept afterwards."""
    path = token_path(home, instance)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        token = path.read_text().strip()
        if token:
            path.chmod(0o600)
            return token
    token = secrets.token_urlsafe(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    tmp.replace(path)
    return token


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def parse_position(body: Any) -> PositionChoice:
    """Takes the optional `position` choice ("close" | "keep") out of an adjust request."""
    if not isinstance(body, dict) or "position" not in body:
        return None
    value = body.pop("position")
    if value is None:
        return None
    if value == "close":
        return "close"
    if value == "keep":
        return "keep"
    raise GridError(f'position must be "close" or "keep" (got {value!r})', field="position")


def parse_dry_run(body: Any) -> bool:
    """Takes the optional `dry_run` flag out of an adjust request."""
    if not isinstance(body, dict) or "dry_run" not in body:
        return False
    value = body.pop("dry_run")
    if not isinstance(value, bool):
        raise GridError(f"dry_run must be true or false (got {value!r})", field="dry_run")
    return value


def _unalias(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in body.items():
        name = ADJUST_ALIASES.get(key, key)
        if name in out:
            raise GridError(f"{key!r} and {name!r} name the same field; give one", field=key)
        out[name] = value
    return out


def parse_adjust(body: Any) -> tuple[Decimal | None, Decimal | None, int | None]:
    """The adjust request, checked field by field; GridError names the bad one."""
    if not isinstance(body, dict):
        raise GridError("the body must be a JSON object", field="body")
    sent = {ADJUST_ALIASES.get(k, k): k for k in body}
    try:
        return _parse_adjust(_unalias(body))
    except GridError as exc:
        # Name the field as the client wrote it ("upper" stays "upper").
        exc.field = sent.get(exc.field or "", exc.field)
        raise


def _parse_adjust(body: dict[str, Any]) -> tuple[Decimal | None, Decimal | None, int | None]:
    for key in body:
        if key not in ADJUST_FIELDS:
            raise GridError(
                f"unknown field {key!r}; use {', '.join(ADJUST_FIELDS)} (or lower, upper, num), "
                "position, dry_run",
                field=key,
            )
    if not any(body.get(k) is not None for k in ADJUST_FIELDS):
        raise GridError("give at least one of " + ", ".join(ADJUST_FIELDS), field="body")
    prices: list[Decimal | None] = []
    for key in ("grid_lower_price", "grid_upper_price"):
        value = body.get(key)
        if value is None:
            prices.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise GridError(f"{key} must be a number", field=key)
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise GridError(f"{key} must be a number (got {value!r})", field=key) from None
        if not number.is_finite() or number <= 0:
            raise GridError(f"{key} must be a positive number (got {value!r})", field=key)
        if number > MAX_PRICE:
            raise GridError(f"{key} must be at most {MAX_PRICE} (got {value!r})", field=key)
        prices.append(number)
    num = body.get("grid_num")
    if num is not None and (isinstance(num, bool) or not isinstance(num, int)):
        raise GridError(f"grid_num must be an integer (got {num!r})", field="grid_num")
    if num is not None and not 2 <= num <= MAX_GRID_NUM:
        raise GridError(f"grid_num must be 2..{MAX_GRID_NUM} (got {num})", field="grid_num")
    return prices[0], prices[1], num


def create_app(runner: BotRunner, token: str, nonce: str | None = None) -> HostGuard:
    """The API. `nonce` (the keeper's GRIDKEEPER_START_NONCE for this start) is echoed on
    /health with the instance name, so the keeper's probe can tell this process's answer from
    another server's on the same port."""

    def authorized(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("utf-8", "replace"), token.encode()
        )

    def refused(request: Request, *, started: bool = True) -> JSONResponse | None:
        """The answer to a request this endpoint must refuse: no token (401), or the grid not
        loaded yet (503) when the endpoint needs it."""
        if not authorized(request):
            return _error(401, "missing or wrong bearer token")
        if started and runner._strategy is None:
            return _error(503, "starting")
        return None

    async def health(_: Request) -> JSONResponse:
        ok, reason = runner.health()
        body: dict[str, Any] = {
            "status": "healthy" if ok else "unhealthy",
            "running": ok,
            "timestamp": time.time(),
            "instance": runner.spec.name,
        }
        if nonce is not None:
            body["nonce"] = nonce
        if runner._strategy is not None:
            body["state"] = runner.strategy.state.status
            body["state_reason"] = runner.strategy.state.reason
        if not ok:
            body["reason"] = reason
        return JSONResponse(body, status_code=200 if ok else 503)

    # The grid and detailed views are read between cycles (under the cycle's lock): mid-cycle
    # a reader would see fills applied and the position grown before the same cycle has placed
    # the closes for it - a held unit with no exit that never existed as a settled state.
    async def detailed(request: Request) -> JSONResponse:
        if (refusal := refused(request, started=False)) is not None:
            return refusal
        async with runner.lock:
            return JSONResponse(runner.detailed())

    async def grid(request: Request) -> JSONResponse:
        if (refusal := refused(request)) is not None:
            return refusal
        async with runner.lock:
            return JSONResponse(runner.grid_view())

    async def balances(request: Request) -> JSONResponse:
        if (refusal := refused(request, started=False)) is not None:
            return refusal
        try:
            found = await runner.client.get_balances()
        except ExchangeError as exc:
            return _error(503, f"exchange: {exc}")
        return JSONResponse(
            {
                asset: {"available": format(b.available, "f"), "locked": format(b.locked, "f")}
                for asset, b in found.items()
            }
        )

    async def adjust(request: Request) -> JSONResponse:
        if (refusal := refused(request)) is not None:
            return refusal
        try:
            body = await read_json(request)
        except BodyError as exc:
            return _error(400, str(exc), "body")
        try:
            position = parse_position(body)
            dry_run = parse_dry_run(body)
            lower, upper, num = parse_adjust(body)
            if dry_run:
                view = await runner.preview_adjust(lower, upper, num, position=position)
            else:
                view = await runner.adjust(lower, upper, num, position=position)
        except GridError as exc:
            return _error(400, str(exc), exc.field)
        return JSONResponse(view)

    async def adopt(request: Request) -> JSONResponse:
        if (refusal := refused(request)) is not None:
            return refusal
        try:
            view = await runner.adopt()
        except GridError as exc:
            return _error(400, str(exc), exc.field)
        except ExchangeError as exc:
            return _error(503, f"exchange: {exc}")
        return JSONResponse(view)

    def command(name: str) -> Handler:
        async def handler(request: Request) -> JSONResponse:
            if (refusal := refused(request)) is not None:
                return refusal
            return JSONResponse(await runner.command(name, f"{name} requested over the API"))

        return handler

    async def stop(request: Request) -> JSONResponse:
        if (refusal := refused(request)) is not None:
            return refusal
        try:
            body = await read_json(request)
        except BodyError as exc:
            return _error(400, str(exc), "body")
        if body is None:
            body = {}
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object", "body")
        flags: dict[str, bool] = {}
        for key in body:
            if key not in STOP_FIELDS:
                return _error(400, f"unknown field {key!r}; use {', '.join(STOP_FIELDS)}", key)
        for key in STOP_FIELDS:
            value = body.get(key, False)
            if not isinstance(value, bool):
                return _error(400, f"{key} must be true or false (got {value!r})", key)
            flags[key] = value
        return JSONResponse(
            await runner.stop(cancel_orders=flags["cancel_orders"], flatten=flags["flatten"])
        )

    async def openapi(request: Request) -> JSONResponse:
        if (refusal := refused(request, started=False)) is not None:
            return refusal
        return JSONResponse(OPENAPI)

    routes: dict[str, dict[str, Handler]] = {
        "/health": {"GET": health},
        "/health/detailed": {"GET": detailed},
        "/api/grid": {"GET": grid},
        "/api/grid/adjust": {"POST": adjust},
        "/api/grid/adopt": {"POST": adopt},
        "/api/balances": {"GET": balances},
        "/api/pause": {"POST": command("pause")},
        "/api/resume": {"POST": command("resume")},
        "/api/stop": {"POST": stop},
        "/openapi.json": {"GET": openapi},
    }
    return HostGuard(Router(routes))
