"""Price sources in a running server: the random walk ticks, the live source reads a ticker."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest

from gridkeeper.config.paper_exchange import PriceSource
from gridkeeper.exchange.paper.prices import PriceFeed
from gridkeeper.exchange.paper.server import ServerThread
from gridkeeper.exchange.paper.service import market_spec
from tests.support import wait_for

from .conftest import Paper, paper_config

pytestmark = pytest.mark.integration


def test_random_walk_moves_prices_in_a_running_server(tmp_path: Path) -> None:
    """With a fast random walk the served ticker leaves its initial price."""
    config = paper_config(
        price_source={"kind": "random_walk", "seed": 3, "interval_s": 0.02, "volatility": 0.01}
    )
    server = ServerThread(config, tmp_path / "home").start()
    try:

        def moved() -> dict[str, str] | None:
            ticker: dict[str, str] = httpx.get(
                server.base_url + "/api/v1/ticker?symbol=SOL_USDC"
            ).json()
            return ticker if D(ticker["lastPrice"]) != D("150") else None

        ticker = wait_for(moved, 10, "the price to move")
        assert D(ticker["lastPrice"]) % D("0.01") == 0
    finally:
        server.stop()


def test_live_source_reads_a_backpack_ticker(paper: Paper, tmp_path: Path) -> None:
    """The live source follows whatever Backpack-compatible ticker it is pointed at."""
    paper.set_price("SOL_USDC", "123.45")
    spec = market_spec(paper_config().markets[0])

    async def go() -> tuple[D | None, D | None]:
        feed = PriceFeed(PriceSource(kind="live", live_url=paper.base_url), tmp_path)
        bad = PriceFeed(PriceSource(kind="live", live_url="http://127.0.0.1:9"), tmp_path)
        try:
            return await feed.next_price(spec, D("1"), 0), await bad.next_price(spec, D("1"), 0)
        finally:
            await feed.aclose()
            await bad.aclose()

    live, unreachable = asyncio.run(go())
    assert live == D("123.45")
    assert unreachable is None  # an unreachable source keeps the last price
