"""A read that fails mid-cycle, after fills were applied, must not apply them twice.

The bot talks to the real paper exchange through a forwarding proxy on 127.0.0.1 that can
answer chosen paths with a 503, as Backpack's edge does now and then. Without a websocket (its
URL points at a closed port) the bot polls: every cycle reads fills over REST, applies the new
ones, then reads the mark price (a perp holding a position). A 503 there once left the applied
fills unknown to the store, so every following cycle applied them again and the grid's
position ran away from the exchange's.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import free_port

from .conftest import Bot, Paper, wait_for

pytestmark = pytest.mark.integration

PERP = "SOL_USDC_PERP"


class FailingProxy:
    """Forwards every request to `upstream`; paths in `failing` get a 503 instead."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.failing: set[str] = set()
        self.failed = 0
        self.port = free_port()
        self._client = httpx.Client(base_url=upstream, timeout=10)
        app = Starlette(
            routes=[Route("/{path:path}", self._forward, methods=["GET", "POST", "DELETE"])]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _forward(self, request: Request) -> Response:
        if request.url.path in self.failing:
            self.failed += 1
            return Response(b'{"code":"SERVICE_UNAVAILABLE"}', status_code=503)
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        body = await request.body()
        # A blocking call in the proxy's loop is fine: one bot, a handful of requests a second.
        r = self._client.request(
            request.method,
            request.url.path,
            params=request.query_params,
            content=body,
            headers=headers,
        )
        return Response(r.content, status_code=r.status_code, media_type="application/json")

    def __enter__(self) -> FailingProxy:
        self._thread.start()
        wait_for(lambda: self._server.started, what="proxy up")
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._client.close()


@pytest.fixture
def proxy(paper: Paper) -> Iterator[FailingProxy]:
    with FailingProxy(paper.url) as p:
        yield p


def _bot(paper: Paper, proxy: FailingProxy, tmp_path: Path, *, stream: bool = False) -> Bot:
    """A perp bot whose REST goes through `proxy`; `stream`: its websockets reach the paper
    exchange directly (else nothing listens at its ws URL and the bot polls)."""
    project = tmp_path / "project"
    (project / "config" / "active").mkdir(parents=True)
    port = free_port()
    config: dict[str, Any] = {
        "metadata": {
            "instance_id": "faulty",
            "exchange": "paper",
            "symbol": PERP,
            "strategy": "perp_grid",
        },
        "daemon_config": {"web_port": port},
        "exchange_config": {
            "base_url": proxy.url,
            "ws_url": (
                paper.url.replace("http", "ws") + "/ws"
                if stream
                else f"ws://127.0.0.1:{free_port()}/ws"  # nothing listens: the bot polls
            ),
            "max_retries": 0,
        },
        "strategy_config": {
            "grid_lower_price": "90",
            "grid_upper_price": "110",
            "grid_num": 11,
            "grid_type": "long",
            "order_quantity": "1",
            "poll_interval_s": 0.2,
            "reconcile_interval_s": 1.0,
        },
    }
    path = project / "config" / "active" / "faulty.json"
    path.write_bytes(orjson.dumps(config))
    return Bot("faulty", project, paper.home, port, path)


def exchange_position(paper: Paper) -> D:
    _, _, _, positions = paper.query(PERP)
    return sum((p.net_quantity for p in positions if p.symbol == PERP), D(0))


def _agreed(bot: Bot, paper: Paper) -> D | None:
    """The exchange's position once the bot has applied every fill there is, if they agree."""
    _, _, fills, _ = paper.query(PERP)
    if bot.get("/health/detailed")["fills"] != len(fills):
        return None
    held = exchange_position(paper)
    return held if D(bot.get("/api/grid")["position"]) == held else None


def test_a_read_failing_after_fills_applies_them_once(
    paper: Paper, proxy: FailingProxy, tmp_path: Path
) -> None:
    bot = _bot(paper, proxy, tmp_path)
    try:
        bot.start()
        wait_for(lambda: len(bot.get("/api/grid")["open_orders"]) >= 5, what="grid placed")
        # Every mark-price read fails from now on; the first fill makes the bot need one.
        proxy.failing.add("/api/v1/markPrices")
        paper.set_price(PERP, "97")  # the buy at 98 fills (in parts, maybe, on this profile)
        wait_for(lambda: exchange_position(paper) > 0, what="the buy filled")
        wait_for(lambda: proxy.failed >= 5, what="several cycles met the failing read")
        # While the read fails, the grid holds what the exchange holds: each fill once.
        held = wait_for(lambda: _agreed(bot, paper), what="the bot agrees with the exchange")
        assert D(bot.get("/api/grid")["position"]) == held
        proxy.failing.clear()
        wait_for(
            lambda: (
                (g := bot.get("/api/grid"))["open_orders"]
                and all(o["status"] == "live" for o in g["open_orders"])
                and sum(
                    D(o["quantity"]) - D(o["filled"]) for o in g["open_orders"] if o["reduce_only"]
                )
                >= D(g["position"])
                > 0
            ),
            what="closes for the bought units",
        )
        held = wait_for(lambda: _agreed(bot, paper), what="the bot agrees with the exchange")
        assert D(bot.get("/api/grid")["position"]) == held > 0
    finally:
        with contextlib.suppress(Exception):
            bot.stop()


def _closes_cover(bot: Bot) -> bool:
    """Every unit the grid holds has a resting reduce-only close (and the grid holds some)."""
    g = bot.get("/api/grid")
    resting = sum(
        (D(o["quantity"]) - D(o["filled"]) for o in g["open_orders"] if o["reduce_only"]),
        D(0),
    )
    return (
        bool(g["open_orders"])
        and all(o["status"] == "live" for o in g["open_orders"])
        and resting >= D(g["position"]) > 0
    )


@pytest.mark.parametrize(
    "path", ["/api/v1/markPrices", "/wapi/v1/history/funding", "/api/v1/position"]
)
def test_a_failing_bookkeeping_read_does_not_hold_back_the_closes(
    paper: Paper, proxy: FailingProxy, tmp_path: Path, path: str
) -> None:
    """The mark only values the position, funding only books cash, the position read only
    checks the grid's figure: while one of them fails (a 503 on every try) the bought units
    still get their closes. They did not: every cycle (the mark) or every full reconcile, then
    retried each loop (funding, the position), stopped at the failing read before any order,
    so the position stayed without an exit, and the limits unwatched, while it failed."""
    bot = _bot(paper, proxy, tmp_path)
    try:
        bot.start()
        wait_for(lambda: len(bot.get("/api/grid")["open_orders"]) >= 5, what="grid placed")
        proxy.failing.add(path)
        paper.set_price(PERP, "97")  # the buy at 98 fills
        wait_for(lambda: exchange_position(paper) > 0, what="the buy filled")
        wait_for(lambda: proxy.failed >= 3, what="cycles met the failing read")
        wait_for(lambda: _closes_cover(bot), what="closes for the bought units, read failing")
        failed = proxy.failed
        wait_for(lambda: proxy.failed > failed, what="the read is still tried (and fails)")
        if path == "/api/v1/markPrices":
            assert bot.get("/api/grid")["mark_price"] is None  # valued at the last trade
        held = wait_for(lambda: _agreed(bot, paper), what="the bot agrees with the exchange")
        assert D(bot.get("/api/grid")["position"]) == held > 0
        if path != "/api/v1/position":
            # Bookkeeping only: the full reconcile still completes (its position check, after
            # funding, sees the fill).
            wait_for(
                lambda: D(bot.get("/api/grid")["exchange_position"]) == held,
                what="a full reconcile completed",
            )
    finally:
        with contextlib.suppress(Exception):
            bot.stop()


def test_a_failing_fills_read_does_not_hold_back_a_boundary_action(
    paper: Paper, proxy: FailingProxy, tmp_path: Path
) -> None:
    """Before a decision that changes the grid's status the bot reads every fill over REST
    (the stream delivers them one message at a time). While that read fails (a 503 on every
    try) it decides on the fills the stream delivered: it used to not decide at all, every
    cycle, so a price far out of the range (or a stop-loss) was never acted on while the
    fills endpoint failed."""
    bot = _bot(paper, proxy, tmp_path, stream=True)
    try:
        bot.start()
        wait_for(lambda: len(bot.get("/api/grid")["open_orders"]) >= 5, what="grid placed")
        wait_for(lambda: bot.get("/api/grid")["status"] == "running", what="running")
        proxy.failing.add("/wapi/v1/history/fills")
        paper.set_price(PERP, "80")  # far below 90 * (1 - 0.01): boundary_action pause
        wait_for(lambda: exchange_position(paper) > 0, what="buys filled")
        wait_for(
            lambda: bot.get("/api/grid")["status"] == "paused",
            what="the boundary pause, fills read failing",
        )
        assert proxy.failed > 0 and "/wapi/v1/history/fills" in proxy.failing
    finally:
        with contextlib.suppress(Exception):
            bot.stop()


def test_a_close_waits_while_the_position_read_fails_then_sends_what_is_held(
    paper: Paper, proxy: FailingProxy, tmp_path: Path
) -> None:
    """A close is sized by the exchange's position read right before it (never more than the
    exchange holds). While that read fails (a 503 on every try) no close goes out, not one
    sized from an older figure; once the read works the close is sent and the grid ends flat."""
    bot = _bot(paper, proxy, tmp_path)
    try:
        bot.start()
        wait_for(lambda: len(bot.get("/api/grid")["open_orders"]) >= 5, what="grid placed")
        paper.set_price(PERP, "97")  # the buy at 98 fills
        held = wait_for(lambda: _agreed(bot, paper), what="the bot agrees with the exchange")
        assert held > 0
        proxy.failing.add("/api/v1/position")
        stopped = bot.post("/api/stop", {"flatten": True})
        assert stopped.status_code == 200 and stopped.json()["closing"] is True, stopped.text
        wait_for(lambda: not paper.query(PERP)[0], what="the grid's orders cancelled")
        failed = proxy.failed
        wait_for(lambda: proxy.failed >= failed + 5, what="position reads tried, failing")
        assert exchange_position(paper) == held  # no close without a fresh figure
        assert bot.get("/api/grid")["closing"] is True
        assert "position not read before the close" in bot.output()
        proxy.failing.discard("/api/v1/position")
        wait_for(
            lambda: exchange_position(paper) == 0 and not bot.get("/api/grid")["closing"],
            timeout=30,
            what="the close sent once the read works: flat",
        )
        assert D(bot.get("/api/grid")["position"]) == 0
    finally:
        with contextlib.suppress(Exception):
            bot.stop()
