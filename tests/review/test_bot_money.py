"""R1 review: grid-bot money-safety defects, each reproduced against a real paper exchange
(realistic profile, manual prices) and real bot processes. Each test fails on the code it was
written against and states the expected behaviour in its docstring."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import orjson
import pytest

from gridkeeper.exchange.client import BackpackClient
from tests.integration.bot.conftest import PAPER_CONFIG, Bot, Paper, wait_for

pytestmark = pytest.mark.integration

MakeBot = Callable[..., Bot]
PERP = "SOL_USDC_PERP"


@pytest.fixture
def paper_config() -> dict[str, Any]:
    """A thin book: one unit per level (20 levels a side), resting orders fill in full."""
    cfg = copy.deepcopy(PAPER_CONFIG)
    cfg["unkind"] = {"liquidity": {"depth_per_level": "1", "trade_volume_per_level": None}}
    return cfg


def net_equity(paper: Paper) -> D:
    async def go() -> D:
        keys = orjson.loads((paper.home / "paper" / "demo-account.json").read_bytes())
        async with BackpackClient(paper.url, keys["api_key"], keys["api_secret"]) as client:
            return D((await client.get_collateral())["netEquity"])

    return asyncio.run(go())


def exchange_position(paper: Paper) -> D:
    _, _, _, positions = paper.query(PERP)
    return sum((p.net_quantity for p in positions if p.symbol == PERP), D(0))


def settled(bot: Bot, paper: Paper) -> bool:
    _, _, fills, _ = paper.query(PERP)
    return bot.get("/health/detailed").get("fills") == len(fills)


def market_orders(paper: Paper) -> int:
    _, history, _, _ = paper.query(PERP)
    return sum(1 for o in history if o.order_type == "Market")


def test_close_on_an_exhausted_book_backs_off_instead_of_hammering(
    paper: Paper, make_bot: MakeBot
) -> None:
    """A stop-loss close larger than the book's depth fills in part; the rest of the book is
    gone until the price moves. Expected: the bot does not resend a reduce-only market close
    every loop (each with a new clientId, each expiring `InsufficientLiquidity` with nothing
    filled) - it backs off like any refused order (at most a handful of tries over several
    reconciles), and completes the close once the book has depth again.

    Today `planning._plan_close` sends a new market order on every loop (~20/s): hundreds of
    orders in seconds, enough to trip Backpack's rate limit."""
    bot = make_bot(
        "thin",
        PERP,
        "perp_grid",
        grid_type="long",
        order_quantity="10",
        stop_loss="30",
        boundary_tolerance="1",
    ).start()
    wait_for(lambda: len(bot.get("/api/grid")["open_orders"]) == 5, what="5 buys")
    paper.set_price(PERP, "93.9")  # buys at 98, 96, 94 fill: long 30, loss > 30
    wait_for(lambda: bot.get("/api/grid")["status"] == "stopped", what="stop_loss fired")
    # The first close takes the 20 units the book holds; 10 are left with no depth to take.
    wait_for(lambda: exchange_position(paper) == 10, what="the partial close")
    seen = bot.output().count('"event":"reconciled"')
    wait_for(
        lambda: bot.output().count('"event":"reconciled"') >= seen + 3,
        timeout=30,
        what="three more reconciles with the book exhausted",
    )
    sent = market_orders(paper)
    assert sent <= 6, f"{sent} market close orders sent into an empty book"
    # A price move refills the book: the close completes.
    paper.set_price(PERP, "93.8")
    wait_for(lambda: exchange_position(paper) == 0, timeout=60, what="closed flat")
