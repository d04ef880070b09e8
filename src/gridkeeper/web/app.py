"""The dashboard's ASGI app: routes, the token check, the path prefix. Data comes from
web/sources.py; the page itself is static (web/static/, hand-written HTML/JS/CSS, no build)."""

from __future__ import annotations

import html
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gridkeeper import __version__
from gridkeeper.httpguard import BodyError, HostGuard, read_json
from gridkeeper.web import auth, fills
from gridkeeper.web.prefix import PrefixMiddleware
from gridkeeper.web.sources import SourceError, Sources
from gridkeeper.web.stream import EventStreamResponse, Feed

STATIC = Path(__file__).with_name("static")
COOKIE_MAX_AGE = 30 * 86400
FLATTEN_WAIT_S = 30.0  # a market close on a thin book may take a few fills
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


@dataclass(frozen=True)
class WebConfig:
    home: Path
    token: str
    refresh_s: float = 5.0
    root_path: str = ""


def _error(message: str, status: int, body: Any = None) -> JSONResponse:
    payload: dict[str, Any] = {"error": message}
    if isinstance(body, dict):
        payload["detail"] = body
    return JSONResponse(payload, status_code=status)


def _name(request: Request) -> str:
    name = str(request.path_params["name"])
    if not name or set(name) - NAME_CHARS:
        raise SourceError(f"bad instance name {name!r}", 400)
    return name


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await read_json(request)
    except BodyError as exc:
        raise SourceError(str(exc), 400) from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise SourceError("the body must be a JSON object", 400)
    return body


def _login_page(root: str, message: str = "", status: int = 200) -> HTMLResponse:
    page = (STATIC / "login.html").read_text()
    page = page.replace("{{message}}", html.escape(message)).replace("{{root}}", html.escape(root))
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def build_app(config: WebConfig) -> Any:
    sources = Sources(config.home)

    def root_of(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    def logged_in(request: Request) -> Response:
        response = RedirectResponse(root_of(request) + "/", status_code=303)
        secure = request.url.scheme == "https" or (
            request.headers.get("x-forwarded-proto", "").lower() == "https"
        )
        response.set_cookie(
            auth.COOKIE,
            config.token,
            max_age=COOKIE_MAX_AGE,
            path=root_of(request) + "/",
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        return response

    async def login(request: Request) -> Response:
        if request.method == "POST":
            raw = (await request.body())[:4096].decode("utf-8", "replace")
            given = (parse_qs(raw).get("token") or [""])[0].strip()
        else:
            given = (request.query_params.get("token") or "").strip()
            if not given:
                return _login_page(root_of(request))
        if auth.token_matches(config.token, given):
            return logged_in(request)
        return _login_page(root_of(request), "That token is not this dashboard's.", 401)

    async def logout(request: Request) -> Response:
        response = RedirectResponse(root_of(request) + "/login", status_code=303)
        response.delete_cookie(auth.COOKIE, path=root_of(request) + "/")
        return response

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def info(request: Request) -> Response:
        return JSONResponse({"version": __version__, "home": str(config.home)})

    async def instances(request: Request) -> Response:
        return JSONResponse(await sources.instances())

    async def events(request: Request) -> Response:
        feed = Feed(sources, config.refresh_s)
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return EventStreamResponse(feed.run, headers)  # type: ignore[return-value]

    async def alerts(request: Request) -> Response:
        return JSONResponse(await sources.alerts())

    async def ack(request: Request) -> Response:
        raw = str(request.path_params["alert_id"])
        # ASCII only: str.isdigit() is true for "²", which int() refuses; and past 18 digits
        # the id overflows SQLite's integer (both were 500s).
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise SourceError("alert id must be a number", 400)
        await sources.ack(int(raw))
        return JSONResponse({"acked": int(raw)})

    async def silence(request: Request) -> Response:
        from gridkeeper.errors import UsageError
        from gridkeeper.monitor.api import parse_duration

        body = await _json_body(request)
        pattern = str(body.get("pattern") or "").strip()
        if not pattern or len(pattern) > 200:
            raise SourceError("pattern: 1-200 characters, e.g. instance_crashed:bot-a", 400)
        try:
            seconds = parse_duration(str(body.get("duration") or "1h"))
        except UsageError as exc:
            raise SourceError(str(exc), 400) from None
        if seconds <= 0:
            raise SourceError("duration must be positive", 400)
        sid = await sources.silence(pattern, seconds, str(body.get("comment") or "")[:500])
        return JSONResponse({"silence": sid, "pattern": pattern, "seconds": seconds})

    async def host(request: Request) -> Response:
        return JSONResponse(await sources.host())

    async def action(request: Request) -> Response:
        name, verb = _name(request), str(request.path_params["verb"])
        body = await _json_body(request)
        if verb == "stop":
            cancel, flatten = bool(body.get("cancel_orders")), bool(body.get("flatten"))
            if cancel or flatten:
                # The bot cancels/flattens itself first (it knows its orders); then the keeper
                # stops the process. A bot that refuses keeps running: the operator reads why.
                await sources.bot(
                    name, "POST", "/api/stop", {"cancel_orders": cancel, "flatten": flatten}
                )
            if flatten:
                await _wait_flat(name)
            result = await sources.keeper("stop", names=[name])
        elif verb in ("start", "restart"):
            result = await sources.keeper(verb, names=[name])
        else:
            raise SourceError(f"unknown action {verb!r}", 404)
        return JSONResponse(result)

    async def _wait_flat(name: str) -> None:
        """The operator asked for a flat stop: the process is stopped only once the bot's
        close is done (`closing` ends, as `gridkeeper stop --flatten` waits for). Not
        `position == 0`: a spot grid keeps the inventory it started with, and a perp grid may
        keep dust below one order; neither ever reads 0. A close still working (or a bot that
        ignored the request) keeps the bot running, so it can finish; the operator is told
        what it holds."""
        deadline = anyio.current_time() + FLATTEN_WAIT_S
        while True:
            view = await sources.bot(name, "GET", "/api/grid")
            if not view.get("closing") or anyio.current_time() >= deadline:
                break
            await anyio.sleep(0.5)
        if view.get("closing"):
            raise SourceError(
                f"{name} still holds {view.get('position')} {FLATTEN_WAIT_S:g}s after the "
                "flatten request; it keeps running so its close can finish: check `gridkeeper "
                f"grid show {name}` and stop again",
                409,
            )

    async def grid(request: Request) -> Response:
        return JSONResponse(await sources.bot(_name(request), "GET", "/api/grid"))

    async def grid_fills(request: Request) -> Response:
        import anyio.to_thread

        name = _name(request)
        base = request.query_params.get("base") or None
        try:
            data = await anyio.to_thread.run_sync(lambda: fills.read(sources.bot_db(name), base))
        except (sqlite3.Error, ValueError, ArithmeticError) as exc:
            raise SourceError(f"cannot read {sources.bot_db(name)}: {exc}", 502) from None
        return JSONResponse(data)

    async def grid_log(request: Request) -> Response:
        raw = request.query_params.get("lines", "200")
        lines = min(int(raw[:5]), 2000) if raw.isascii() and raw.isdigit() else 200
        return JSONResponse({"lines": await sources.log_tail(_name(request), lines)})

    async def grid_command(request: Request) -> Response:
        name, verb = _name(request), str(request.path_params["verb"])
        if verb not in ("pause", "resume"):
            raise SourceError(f"unknown grid command {verb!r}", 404)
        await _json_body(request)
        return JSONResponse(await sources.bot(name, "POST", f"/api/{verb}", {}))

    async def adjust(request: Request) -> Response:
        body = await _json_body(request)
        return JSONResponse(await sources.bot(_name(request), "POST", "/api/grid/adjust", body))

    routes = [
        Route("/", index),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/api/info", info),
        Route("/api/instances", instances),
        Route("/api/events", events),
        Route("/api/alerts", alerts),
        Route("/api/alerts/{alert_id}/ack", ack, methods=["POST"]),
        Route("/api/silences", silence, methods=["POST"]),
        Route("/api/host", host),
        Route("/api/instances/{name}/{verb}", action, methods=["POST"]),
        Route("/api/grid/{name}", grid),
        Route("/api/grid/{name}/fills", grid_fills),
        Route("/api/grid/{name}/log", grid_log),
        Route("/api/grid/{name}/adjust", adjust, methods=["POST"]),
        Route("/api/grid/{name}/{verb}", grid_command, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]

    async def source_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SourceError)
        return _error(str(exc), exc.status, exc.body)

    app = Starlette(routes=routes, exception_handlers={SourceError: source_error})
    guarded = auth.AuthMiddleware(app, config.token)
    return HostGuard(PrefixMiddleware(guarded, config.root_path))
