"""The control API's HTTP plumbing on bare ASGI (uvicorn serves it): exact-path routes, a
request's headers and body stream, JSON responses.

The API is ten fixed routes with JSON in and out; starlette's routing, request and response
classes cost every bot ~1 MiB (issue 14: a bot <= 40 MiB RSS) for nothing it uses. Behaviour is
starlette's where a client can see it: the same JSON encoding, `404 Not Found` for an unknown
path, `405 Method Not Allowed` with an `Allow` header for a known path with another method, HEAD
answered like GET.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Disconnected(Exception):
    """The client went away before its request body was complete: nothing is answered."""


class Request:
    """What a handler reads of a request: its headers (lower-case names, the first of
    repeated ones) and its body as a stream of chunks (httpguard.read_body)."""

    __slots__ = ("_receive", "headers", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self._receive = receive
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
        self.headers = headers

    async def stream(self) -> AsyncIterator[bytes]:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise Disconnected
            body: bytes = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                return


class Response:
    __slots__ = ("body", "headers", "status_code")

    def __init__(
        self,
        body: bytes,
        status_code: int,
        media_type: bytes,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.body = body
        self.status_code = status_code
        self.headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", media_type),
            *(headers or []),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


class JSONResponse(Response):
    """`content` as JSON, encoded as starlette's JSONResponse encodes it."""

    def __init__(self, content: Any, status_code: int = 200) -> None:
        body = json.dumps(
            content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode("utf-8")
        super().__init__(body, status_code, b"application/json")


def _text(status: int, text: str, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(text.encode(), status, b"text/plain; charset=utf-8", headers)


Handler = Callable[[Request], Awaitable[Response]]


class Router:
    """An ASGI app: `routes[path][method]` answers; HEAD falls back to GET."""

    def __init__(self, routes: dict[str, dict[str, Handler]]) -> None:
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})
            return
        if scope["type"] != "http":
            return  # lifespan: the bot runs uvicorn with lifespan="off"
        methods = self.routes.get(scope["path"])
        method = scope["method"]
        response: Response
        if methods is None:
            response = _text(404, "Not Found")
        elif method in methods or (method == "HEAD" and "GET" in methods):
            handler = methods.get(method) or methods["GET"]
            try:
                response = await handler(Request(scope, receive))
            except Disconnected:
                return
        else:
            allowed = sorted({*methods, *(["HEAD"] if "GET" in methods else [])})
            response = _text(
                405, "Method Not Allowed", [(b"allow", ", ".join(allowed).encode("latin-1"))]
            )
        await response(scope, receive, send)
