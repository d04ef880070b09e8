"""Who may use the dashboard: one token in `<home>/tokens/web.token`.

The browser presents it once (the login form, or the link `gridkeeper web url` prints) and keeps
it in an HttpOnly, SameSite=Strict cookie; scripts may send `Authorization: Bearer <token>`.
Every request but the login page is refused without it. A state-changing request must also be
JSON (`Content-Type: application/json`): a cross-site HTML form cannot send that without a CORS
preflight we never answer, so SameSite plus this closes CSRF even on browsers that ignore it.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

TOKEN_FILE = "web.token"  # noqa: S105 (a file name, not a password)
COOKIE = "gridkeeper_web"
SAFE_METHODS = frozenset({"GET", "HEAD"})


def token_path(home: Path) -> Path:
    return home / "tokens" / TOKEN_FILE


def ensure_token(home: Path) -> str:
    """The dashboard's token; created (0600, in a 0700 folder) at first use."""
    path = token_path(home)
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        token = ""
    if token:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # someone loosened it: the token is a password
        return token
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    # O_EXCL: two starters racing must not hand out two different tokens.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip() or ensure_token_rewrite(path)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token


def ensure_token_rewrite(path: Path) -> str:
    """An empty token file (a crash between create and write): write a fresh token."""
    token = secrets.token_urlsafe(32)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def token_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


def presented_token(headers: dict[str, str]) -> str | None:
    """The token a request carries: the bearer header first, else the cookie."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    raw = headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed cookie header is simply no token
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


def is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


# -- the ASGI middleware ------------------------------------------------------------------------
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
OPEN_PATHS = frozenset({"/login"})  # the only page a stranger may see: the token form


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}


async def _answer(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers + extra})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """Refuses every request without the token (but the login form): a page gets a redirect to
    the form, anything else a 401. A state-changing request must be JSON (module docstring)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette._utils import get_route_path

        path = get_route_path(scope) or "/"
        method = str(scope.get("method", "GET")).upper()
        headers = _headers(scope)
        if path in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if not token_matches(self.token, presented_token(headers)):
            if method in SAFE_METHODS and not path.startswith(("/api/", "/static/")):
                root = str(scope.get("root_path", "")).rstrip("/")
                location = (root + "/login").encode()
                await _answer(send, 303, b"", [(b"location", location)])
                return
            body = b'{"error": "not logged in: open the link `gridkeeper web url` prints"}'
            await _answer(send, 401, body, [(b"content-type", b"application/json")])
            return
        if (
            method not in SAFE_METHODS
            and path != "/logout"
            and not is_json(headers.get("content-type"))
        ):
            body = b'{"error": "state-changing requests must be application/json"}'
            await _answer(send, 415, body, [(b"content-type", b"application/json")])
            return
        await self.app(scope, receive, send)
