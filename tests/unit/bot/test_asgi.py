"""The control API's bare-ASGI plumbing answers as starlette did where a client can see it."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

from starlette.responses import JSONResponse as StarletteJSON

from gridkeeper.bot.asgi import JSONResponse, Request, Response, Router
from gridkeeper.httpguard import read_json


def call(
    app: Router, method: str, path: str, chunks: list[bytes] | None = None, disconnect: bool = False
) -> list[MutableMapping[str, Any]]:
    sent: list[MutableMapping[str, Any]] = []
    messages: list[MutableMapping[str, Any]] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks or []) - 1}
        for i, c in enumerate(chunks or [b""])
    ]
    if disconnect:
        messages = [{"type": "http.request", "body": b"{", "more_body": True}]
        messages.append({"type": "http.disconnect"})

    async def receive() -> MutableMapping[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(b"Authorization", b"Bearer x"), (b"authorization", b"second")],
    }
    asyncio.run(app(scope, receive, send))
    return sent


async def echo(request: Request) -> Response:
    body = await read_json(request)
    return JSONResponse({"auth": request.headers.get("authorization"), "body": body})


APP = Router({"/echo": {"POST": echo}, "/get": {"GET": echo}})


def test_json_encoded_as_starlette_did() -> None:
    content = {"price": "101.5", "name": "sol é", "n": 3, "t": 1.25, "none": None, "l": [True]}
    assert JSONResponse(content).body == StarletteJSON(content).body
    head = JSONResponse(content, status_code=503)
    assert head.status_code == 503
    assert (b"content-type", b"application/json") in head.headers


def test_routes_body_and_headers() -> None:
    sent = call(APP, "POST", "/echo", [b'{"a"', b": 1}"])
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b'{"auth":"Bearer x","body":{"a":1}}'  # first of repeated headers


def test_unknown_path_wrong_method_and_head() -> None:
    missing = call(APP, "GET", "/nope")
    assert missing[0]["status"] == 404 and missing[1]["body"] == b"Not Found"
    wrong = call(APP, "GET", "/echo")
    assert wrong[0]["status"] == 405 and (b"allow", b"POST") in wrong[0]["headers"]
    assert call(APP, "HEAD", "/get")[0]["status"] == 200
    assert (b"allow", b"GET, HEAD") in call(APP, "POST", "/get")[0]["headers"]


def test_a_client_gone_mid_body_gets_no_answer_and_nothing_runs() -> None:
    assert call(APP, "POST", "/echo", disconnect=True) == []
