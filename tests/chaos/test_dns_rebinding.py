"""DNS rebinding and open reads (issue 11): every HTTP server we run answers only a loopback
`Host` (or one listed in $GRIDKEEPER_ALLOWED_HOSTS), and every bot endpoint but /health needs
the bot's token."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from gridkeeper.httpguard import host_allowed
from gridkeeper.monitor.exporter import Exporter
from tests.integration.bot.conftest import Bot, Paper, make_bot, paper, paper_config

__all__ = ["make_bot", "paper", "paper_config"]

EVIL = {"Host": "rebind.evil.example"}


def test_host_rule() -> None:
    for ok in ("127.0.0.1", "127.0.0.1:8080", "localhost:1", "LOCALHOST", "[::1]:80", "[::1]"):
        assert host_allowed(ok), ok
    for bad in (None, "", "evil.example", "evil.example:8080", "127.0.0.1.evil.example", "[::2]"):
        assert not host_allowed(bad), bad
    assert host_allowed("grid.internal:8080", frozenset({"grid.internal"}))


def test_the_bot_refuses_a_foreign_host_and_reads_without_its_token(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot("guarded").start()
    auth = {"Authorization": f"Bearer {bot.token}"}
    for path in ("/health", "/api/grid", "/api/balances"):
        reply = httpx.get(bot.url + path, headers={**auth, **EVIL}, timeout=5)
        assert reply.status_code == 400, path
    reply = httpx.post(bot.url + "/api/pause", headers={**auth, **EVIL}, timeout=5)
    assert reply.status_code == 400
    assert bot.get("/api/grid")["status"] == "running"  # the refused pause changed nothing
    for path in ("/api/grid", "/api/balances", "/health/detailed", "/openapi.json"):
        assert httpx.get(bot.url + path, timeout=5).status_code == 401, path
        wrong = {"Authorization": "Bearer nope"}
        assert httpx.get(bot.url + path, headers=wrong, timeout=5).status_code == 401, path
        assert httpx.get(bot.url + path, headers=auth, timeout=5).status_code == 200, path
    assert httpx.get(bot.url + "/health", timeout=5).status_code == 200  # the probe needs none
    localhost = {"Host": f"localhost:{bot.port}"}
    assert httpx.get(bot.url + "/health", headers=localhost, timeout=5).status_code == 200


def test_the_paper_exchange_refuses_a_foreign_host(paper: Paper) -> None:
    ticker = f"{paper.url}/api/v1/ticker?symbol=SOL_USDC"
    assert httpx.get(ticker, headers=EVIL, timeout=5).status_code == 400
    assert httpx.get(ticker, timeout=5).status_code == 200
    price = {"symbol": "SOL_USDC", "price": "101"}
    reply = httpx.post(
        f"{paper.url}/_paper/price", json=price, headers={**paper.admin, **EVIL}, timeout=5
    )
    assert reply.status_code == 400
    last = httpx.get(ticker, timeout=5).json()["lastPrice"]
    assert last == "100" or float(last) == 100.0


def test_the_metrics_exporter_refuses_a_foreign_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDKEEPER_ALLOWED_HOSTS", "metrics.internal, other.internal")
    exporter = Exporter(0).start()
    try:
        url = f"http://127.0.0.1:{exporter.port}/metrics"
        assert httpx.get(url, headers=EVIL, timeout=5).status_code == 400
        assert httpx.get(url, timeout=5).status_code == 200
        named = {"Host": f"metrics.internal:{exporter.port}"}
        assert httpx.get(url, headers=named, timeout=5).status_code == 200
    finally:
        exporter.stop()
