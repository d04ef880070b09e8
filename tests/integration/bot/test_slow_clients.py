"""A real bot's control API against slow, idle and many clients (gridkeeper.slowclients with
the bot's own limits: a request within 10 s, at most 64 connections)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx

from tests.integration.bot.conftest import Bot, wait_for
from tests.support import closed_by_server, connect_raw


def _connect(bot: Bot) -> socket.socket:
    return connect_raw(bot.port)


_closed = closed_by_server


def test_silent_and_half_sent_connections_are_closed(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot("slow1").start()
    silent = _connect(bot)
    half = _connect(bot)
    with silent, half:
        half.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert httpx.get(f"{bot.url}/health", timeout=5).json()["status"] == "healthy"
        wait_for(lambda: _closed(silent), 30, "silent connection closed")
        wait_for(lambda: _closed(half), 30, "half-sent head closed")
    assert bot.get("/health")["status"] == "healthy"


def test_hundreds_of_idle_sockets_do_not_stop_health(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot("slow2").start()
    idle = [_connect(bot) for _ in range(300)]
    try:
        for _ in range(3):
            assert httpx.get(f"{bot.url}/health", timeout=5).json()["status"] == "healthy"
        # The bot holds at most 64 of them: the rest were closed, its descriptors spared.
        wait_for(lambda: sum(_closed(s) for s in idle) >= 300 - 64, 30, "idle sockets evicted")
    finally:
        for sock in idle:
            sock.close()
    assert bot.proc is not None and bot.proc.poll() is None
