"""Slow, idle and too many clients against the real uvicorn server as the bot builds it
(bot/main.py: _QuietServer + gridkeeper.slowclients.server_options), on 127.0.0.1 sockets.
Short deadlines here so the tests wait seconds; the bot's own are checked in
tests/integration/bot/test_slow_clients.py."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from gridkeeper.bot import main as bot_main
from gridkeeper.slowclients import guarded_protocol, server_options
from tests.support import closed_by_server, connect_raw, free_port, wait_for

DISCONNECTS: list[str] = []  # paths whose body never completed, as the app saw it


async def app(scope: Any, receive: Any, send: Any) -> None:
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            DISCONNECTS.append(scope["path"])
            return
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


Serve = Callable[..., int]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """serve(request_timeout_s, max_connections) -> port of a running server."""
    stops: list[Callable[[], None]] = []

    def start(request_timeout_s: float, max_connections: int) -> int:
        port = free_port()
        sock = bot_main.bind(port)
        ready = threading.Event()
        state: dict[str, Any] = {}

        async def main() -> None:
            server = bot_main._QuietServer(
                uvicorn.Config(
                    app,
                    lifespan="off",
                    log_level="warning",
                    access_log=False,
                    log_config=None,
                    **server_options(request_timeout_s, max_connections),
                )
            )
            state["server"], state["loop"] = server, asyncio.get_running_loop()
            ready.set()
            await server.serve(sockets=[sock])

        thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        thread.start()
        assert ready.wait(10)
        wait_for(lambda: _health(port) == 200, 10, "server up", ignore=(httpx.HTTPError,))

        def stop() -> None:
            def exit_now() -> None:
                state["server"].should_exit = True

            state["loop"].call_soon_threadsafe(exit_now)
            thread.join(15)
            assert not thread.is_alive()

        stops.append(stop)
        return port

    yield start
    for stop in stops:
        stop()


def _health(port: int) -> int:
    return httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code


_connect = connect_raw


_closed = closed_by_server


def test_a_connection_that_sends_nothing_is_closed(serve: Serve) -> None:
    port = serve(1.0, 64)
    with _connect(port) as sock:
        wait_for(lambda: _closed(sock), 15, "silent connection closed")


def test_half_a_request_head_is_closed_without_an_answer(serve: Serve) -> None:
    port = serve(1.0, 64)
    with _connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line
        wait_for(lambda: _closed(sock), 15, "half-sent head closed")


def test_a_body_that_stops_midway_is_closed_and_the_app_sees_a_disconnect(serve: Serve) -> None:
    port = serve(1.0, 64)
    with _connect(port) as sock:
        sock.sendall(
            b"POST /slow-body HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\nabc"
        )
        wait_for(lambda: _closed(sock), 15, "half-sent body closed")
    wait_for(lambda: "/slow-body" in DISCONNECTS, 15, "app told of the disconnect")


def test_a_trickled_head_does_not_reset_the_deadline(serve: Serve) -> None:
    """slowloris: a byte at a time keeps a per-read timeout happy, never the request deadline."""
    port = serve(1.0, 64)
    with _connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\n")

        def trickle_until_closed() -> bool:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                return True
            return _closed(sock)

        wait_for(trickle_until_closed, 15, "trickling client closed")


def test_normal_requests_and_keep_alive_still_work(serve: Serve) -> None:
    port = serve(1.0, 64)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        assert http.get("/health").text == "ok"
        assert http.post("/x", content=b"0123456789").text == "ok"
        assert http.get("/health").text == "ok"  # the same keep-alive connection


def test_the_next_request_on_a_keep_alive_connection_has_its_deadline_too(serve: Serve) -> None:
    port = serve(1.0, 64)
    with _connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = wait_for(lambda: _recv(sock), 10, "first answer")
        assert answer.startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /health HTTP/1.1\r\n")  # the next request, half sent
        wait_for(lambda: _closed(sock), 15, "half-sent second request closed")


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(4096)
    except TimeoutError:
        return b""


def test_many_idle_sockets_do_not_stop_health(serve: Serve) -> None:
    # A long deadline: only the connection cap can make room here.
    port = serve(300.0, 8)
    idle = [_connect(port) for _ in range(60)]
    try:
        assert _health(port) == 200
        # The server holds at most its cap: the others were closed (oldest first).
        wait_for(lambda: sum(_closed(s) for s in idle) >= 60 - 8, 15, "idle sockets evicted")
        assert _health(port) == 200
    finally:
        for sock in idle:
            sock.close()


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        guarded_protocol(0, 8)
    with pytest.raises(ValueError):
        guarded_protocol(1.0, 0)
