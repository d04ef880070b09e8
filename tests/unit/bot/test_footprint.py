"""The bot's footprint pieces that are pure logic: the streamed fill, the market view, the
nonce name the bot spells out instead of importing the keeper."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from typing import Any

import orjson

from gridkeeper.bot import main as bot_main
from gridkeeper.bot.fast_fill import fill_of
from gridkeeper.exchange.market_stream import MarketStream, MarketView
from gridkeeper.exchange.models import OrderUpdate
from gridkeeper.keeper import process

FILL = {
    "e": "orderFill",
    "i": "111",
    "c": 5,
    "s": "SOL_USDC_PERP",
    "S": "Bid",
    "X": "Filled",
    "o": "LIMIT",
    "p": "99",
    "q": "1",
    "z": "1",
    "l": "1",
    "L": "99",
    "n": "0.0198",
    "N": "USDC",
    "t": 42,
    "m": True,
    "T": 1_700_000_000_123_456,
}


def test_nonce_env_matches_the_keeper() -> None:
    assert bot_main.NONCE_ENV == process.NONCE_ENV


def test_streamed_fill_keyed_as_rest_keys_it() -> None:
    fill = fill_of(OrderUpdate.from_api(FILL))
    assert fill is not None
    assert (fill.trade_id, fill.order_id, fill.client_id) == ("42", "111", 5)
    assert (fill.price, fill.quantity, fill.fee) == (Decimal(99), Decimal(1), Decimal("0.0198"))
    assert fill.timestamp_ms == 1_700_000_000_123


def test_fill_without_trade_id_or_fee_is_left_to_rest() -> None:
    assert fill_of(OrderUpdate.from_api({**FILL, "t": None})) is None
    assert fill_of(OrderUpdate.from_api({**FILL, "n": None})) is None
    assert fill_of(OrderUpdate.from_api({**FILL, "e": "orderAccepted"})) is None


def test_market_view_live_only_with_figures() -> None:
    view = MarketView()
    stream = MarketStream("ws://127.0.0.1:1/ws", "SOL_USDC", view)
    assert view.price() is None and view.top() is None
    stream.handle(orjson.dumps({"data": {"e": "ticker", "s": "SOL_USDC", "c": "101.5"}}))
    assert view.price() == Decimal("101.5") and view.top() is None
    stream.handle(
        orjson.dumps({"data": {"e": "bookTicker", "s": "SOL_USDC", "b": "101.4", "a": "101.6"}})
    )
    assert view.top() == (Decimal("101.4"), Decimal("101.6"))
    # Another symbol, a crossed book, garbage: ignored.
    stream.handle(orjson.dumps({"data": {"e": "ticker", "s": "BTC_USDC", "c": "5"}}))
    stream.handle(orjson.dumps({"data": {"e": "bookTicker", "s": "SOL_USDC", "b": "9", "a": "8"}}))
    stream.handle(b"not json")
    assert view.price() == Decimal("101.5")
    assert view.top() == (Decimal("101.4"), Decimal("101.6"))
    view.live = False  # what a disconnect does
    assert view.price() is None and view.top() is None


# What a running bot imports (`python -m gridkeeper bot`: cli/fast.py, then bot/main.py's serve),
# and what must stay out of it: each of these costs MiB in every bot (docs/footprint.md, "Grid
# bot"). pydantic and the config models stay in the resolver process (config/bot_wire.py).
BOT_PATH = (
    "gridkeeper.cli.fast",
    "gridkeeper.bot.main",
    "uvicorn",
    "gridkeeper.bot.api",
    "gridkeeper.bot.runner",
    "gridkeeper.bot.store",
    "gridkeeper.exchange.client",
    "gridkeeper.exchange.stream",
    "gridkeeper.exchange.market_stream",
)
NOT_IN_A_BOT = (
    "cryptography",
    "rich",
    "pygments",
    "structlog",
    "starlette",  # the control API runs on bare ASGI (bot/asgi.py)
    "pydantic",
    "pydantic_core",
    "gridkeeper.config",
    "gridkeeper.keeper",
    "gridkeeper.logs.sink",  # the keeper's log writer (gzip/bz2/lzma housekeeping)
)


def test_bot_path_leaves_heavy_packages_out() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in BOT_PATH)
        + f"print(sorted(m for m in sys.modules if m.split('.')[0] in {NOT_IN_A_BOT!r} "
        + f"or m.startswith({NOT_IN_A_BOT[-3:]!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_control_server_serves_with_date_and_stops_when_told() -> None:
    """The bot's uvicorn without the 100 ms timer still answers with a Date header, keeps it
    current, and its serve() returns once should_exit is set (what the bot's shutdown does)."""
    import asyncio

    import httpx
    import uvicorn

    from tests.support import free_port

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def main() -> tuple[int, str, bool]:
        port = free_port()
        sock = bot_main.bind(port)
        server = bot_main._QuietServer(
            uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
        )
        task = asyncio.create_task(server.serve(sockets=[sock]))
        async with httpx.AsyncClient() as http:
            for _ in range(200):  # until it listens (deadline: 200 tries)
                try:
                    r = await http.get(f"http://127.0.0.1:{port}/")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        return r.status_code, r.headers.get("date", ""), task.done()

    status, date, done = asyncio.run(main())
    assert status == 200 and date.endswith(" GMT") and done


def test_market_view_mark_price_from_the_perp_stream() -> None:
    """A perp's stream subscribes markPrice and holds the mark; a spot stream does not ask for
    it; a bad or non-positive mark is ignored; a disconnect hides it (callers read REST)."""
    assert "markPrice.SOL_USDC" not in MarketStream("ws://x", "SOL_USDC", MarketView()).streams
    view = MarketView()
    stream = MarketStream("ws://127.0.0.1:1/ws", "SOL_USDC_PERP", view, mark=True)
    assert "markPrice.SOL_USDC_PERP" in stream.streams
    assert view.mark_price() is None
    msg = {"e": "markPrice", "s": "SOL_USDC_PERP", "p": "100.123456", "i": "100.1"}
    stream.handle(orjson.dumps({"data": msg}))
    assert view.mark_price() == Decimal("100.123456")
    stream.handle(orjson.dumps({"data": {**msg, "p": "-1"}}))
    stream.handle(orjson.dumps({"data": {**msg, "p": None}}))
    stream.handle(orjson.dumps({"data": {**msg, "s": "BTC_USDC_PERP", "p": "5"}}))
    assert view.mark_price() == Decimal("100.123456")
    view.mark_updated -= 10.0  # the exchange stopped pushing the mark: too old to stand in
    assert view.mark_price() is None
    stream.handle(orjson.dumps({"data": msg}))
    assert view.mark_price() == Decimal("100.123456")
    view.live = False
    assert view.mark_price() is None


def test_plain_transport_only_for_a_plain_http_exchange() -> None:
    """No TLS trust store for the paper exchange's http:// (it never speaks TLS); Backpack's
    https:// keeps httpx's default, verifying transport. The pool keeps the client's keep-alive
    (below the server's, exchange/client.py)."""
    import httpx

    from gridkeeper.exchange.client import KEEPALIVE_S

    assert bot_main.plain_transport("https://api.backpack.exchange") is None
    transport = bot_main.plain_transport("HTTP://127.0.0.1:8686")
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    assert transport._pool._keepalive_expiry == KEEPALIVE_S
