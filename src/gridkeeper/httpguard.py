"""What every HTTP server we run checks before a handler sees a request (issue 11).

- Request bodies: at most `MAX_BODY_BYTES` read (a bigger one is refused before it is buffered)
  and JSON nested at most `MAX_DEPTH` deep. A body past either limit is a 400, never a 500:
  stdlib `json` raises RecursionError on deep nesting, which escaped as a 500 before.
- The `Host` header (DNS rebinding): a web page served from a rebinding domain reaches
  127.0.0.1 with `Host: evil.example`. Only loopback names, and the names listed in
  `$GRIDKEEPER_ALLOWED_HOSTS` (comma-separated, for a reverse proxy), are answered; anything
  else is a 400 before routing.

Pure helpers plus one small ASGI middleware; `http.server` servers call `host_allowed()`.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

MAX_BODY_BYTES = 1 << 20  # 1 MiB: far above any real request (a 50-order batch is ~10 KiB)
MAX_DEPTH = 32  # our deepest real body is a list of order objects: depth 2
ALLOWED_HOSTS_ENV = "GRIDKEEPER_ALLOWED_HOSTS"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyError(ValueError):
    """A request body we refuse to handle; the message is safe to show the client."""


def depth_of(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deep `value` nests lists and dicts (a scalar is 0), counting no further than
    `limit + 1`. Iterative, so no input can exhaust the stack."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((child, level) for child in children)
    return deepest


def parse_json(raw: bytes, *, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """`raw` as JSON, or BodyError when it is too big, too deep or not JSON."""
    if len(raw) > max_bytes:
        raise BodyError(f"the body is larger than {max_bytes} bytes")
    try:
        # orjson refuses nesting past 1024 with a JSONDecodeError (no RecursionError); the
        # tighter limit is checked on the result.
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc).lower() or "recursion" in str(exc).lower():
            raise BodyError(f"the body nests deeper than {max_depth} levels") from None
        raise BodyError("the body is not JSON") from None
    if depth_of(value, max_depth) > max_depth:
        raise BodyError(f"the body nests deeper than {max_depth} levels")
    return value


async def read_body(request: Any, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """The body of a starlette request, refusing one past `max_bytes` without buffering it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyError(f"the body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BodyError(f"the body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(
    request: Any, *, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH
) -> Any:
    """The JSON body of a starlette request within the limits; an empty body is None."""
    raw = await read_body(request, max_bytes)
    if not raw.strip():
        return None
    return parse_json(raw, max_bytes=max_bytes, max_depth=max_depth)


def configured_hosts() -> frozenset[str]:
    """The extra host names from `$GRIDKEEPER_ALLOWED_HOSTS`, lower-cased."""
    raw = os.environ.get(ALLOWED_HOSTS_ENV, "")
    return frozenset(name.strip().lower() for name in raw.split(",") if name.strip())


def host_name(header: str) -> str:
    """The name part of a Host header: `[::1]:80` -> `[::1]`, `Example:80` -> `example`."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[: end + 1] if end > 0 else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_allowed(header: str | None, extra: frozenset[str] = frozenset()) -> bool:
    """True for a loopback Host (any port) or one of `extra`. A missing Host is refused:
    every HTTP/1.1 client sends one."""
    if not header:
        return False
    name = host_name(header)
    return name in LOOPBACK_HOSTS or name in extra


HOST_REFUSED = b'{"error": "Host header not allowed (only 127.0.0.1, localhost, [::1])"}'


class HostGuard:
    """ASGI middleware: a request or websocket whose Host is not allowed gets a 400 (a
    websocket is closed with 1008) before it reaches any route."""

    def __init__(self, app: ASGIApp, extra: frozenset[str] | None = None) -> None:
        self.app = app
        self.extra = configured_hosts() if extra is None else extra

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host: str | None = None
        for key, value in scope.get("headers", ()):
            if key == b"host":
                host = value.decode("latin-1")
                break
        if host_allowed(host, self.extra):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(HOST_REFUSED)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": HOST_REFUSED})
