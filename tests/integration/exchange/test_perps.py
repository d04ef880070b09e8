"""Perpetuals in a running paper exchange: mark prices, funding, liquidation and their endpoints."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from gridkeeper.exchange import signing
from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.models import OrderRequest
from gridkeeper.exchange.paper.server import ServerThread
from tests.support import wait_for

from .conftest import PUBLIC, SECRET, Paper, paper_config

pytestmark = pytest.mark.integration
PERP = "SOL_USDC_PERP"


@pytest.fixture
def make_paper(tmp_path: Path) -> Iterator[Any]:
    servers: list[ServerThread] = []

    def start(**perps: Any) -> Paper:
        home = tmp_path / "home"
        server = ServerThread(paper_config(perps=perps), home).start()
        servers.append(server)
        return Paper(server, home)

    yield start
    for server in servers:
        server.stop()


def signed_get(paper: Paper, path: str, instruction: str, **params: str) -> httpx.Response:
    headers = signing.sign_request(instruction, params or None, SECRET, int(time.time() * 1000))
    return httpx.get(paper.base_url + path, params=params, headers=headers, timeout=10)


def market_order(paper: Paper, side: str, qty: str) -> None:
    async def go() -> None:
        async with BackpackClient(paper.base_url, PUBLIC, SECRET) as client:
            await client.execute_order(OrderRequest(PERP, side, "Market", D(qty)))  # type: ignore[arg-type]

    asyncio.run(go())


def test_mark_price_with_basis_values_positions(make_paper: Any) -> None:
    """markPrices serves the mark apart from the last; positions and collateral value at mark."""
    paper = make_paper(mark_basis_bps="100")
    marks = httpx.get(paper.base_url + "/api/v1/markPrices").json()
    assert [m["symbol"] for m in marks] == [PERP]  # perps only
    assert (D(marks[0]["markPrice"]), D(marks[0]["indexPrice"])) == (D("151.5"), D("150"))
    assert marks[0]["nextFundingTimestamp"] % 28_800_000 == 0
    assert httpx.get(paper.base_url + "/api/v1/markPrices?symbol=SOL_USDC").json() == []
    unknown = httpx.get(paper.base_url + "/api/v1/markPrices?symbol=NOPE")
    assert unknown.status_code == 400 and unknown.json()["code"] == "INVALID_SYMBOL"

    market_order(paper, "Bid", "2")
    paper.set_price(PERP, "200")
    [pos] = signed_get(paper, "/api/v1/position", "positionQuery").json()
    assert D(pos["markPrice"]) == D("202")
    entry = D(pos["entryPrice"])
    assert D(pos["pnlUnrealized"]) == 2 * (D("202") - entry)
    collateral = signed_get(paper, "/api/v1/capital/collateral", "collateralQuery").json()
    assert D(collateral["pnlUnrealized"]) == D(pos["pnlUnrealized"])
    interest = httpx.get(paper.base_url + "/api/v1/openInterest").json()
    assert [(o["symbol"], D(o["openInterest"])) for o in interest] == [(PERP, D("2"))]


def test_funding_is_paid_each_interval_and_listed(make_paper: Any) -> None:
    """With a 1 s interval a long pays funding: balance, position, both histories show it."""
    paper = make_paper(funding=True, funding_interval_s=1, funding_rate="0.001")
    market_order(paper, "Bid", "10")

    def paid() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = signed_get(
            paper, "/wapi/v1/history/funding", "fundingHistoryQueryAll", symbol=PERP
        ).json()
        return rows

    rows = wait_for(paid, 20, "a funding payment")
    first = rows[-1]
    assert first["symbol"] == PERP and D(first["fundingRate"]) == D("0.001")
    assert D(first["quantity"]) == D("-1.5")  # -10 x 150 x 0.001
    assert first["intervalEndTimestamp"].endswith(".000")
    response = signed_get(paper, "/wapi/v1/history/funding", "fundingHistoryQueryAll", limit="1")
    assert len(response.json()) == 1 and int(response.headers["X-TOTAL"]) >= 1

    [pos] = signed_get(paper, "/api/v1/position", "positionQuery").json()
    assert D(pos["cumulativeFundingPayment"]) <= D("-1.5")
    balance = D(signed_get(paper, "/api/v1/capital", "balanceQuery").json()["USDC"]["available"])
    [fill] = signed_get(paper, "/wapi/v1/history/fills", "fillHistoryQueryAll").json()
    assert balance <= D("10000") - D(fill["fee"]) - D("1.5")  # paid from the quote balance

    rates = httpx.get(paper.base_url + "/api/v1/fundingRates", params={"symbol": PERP})
    assert rates.status_code == 200 and int(rates.headers["X-TOTAL"]) >= 1
    assert D(rates.json()[0]["fundingRate"]) == D("0.001")
    missing = httpx.get(paper.base_url + "/api/v1/fundingRates")
    assert missing.status_code == 400


def test_funding_survives_a_restart_without_paying_twice(tmp_path: Path) -> None:
    """The ledger and cumulative funding persist; a restart pays no interval twice."""
    config = paper_config(perps={"funding": True, "funding_interval_s": 1})
    home = tmp_path / "home"
    server = ServerThread(config, home).start()
    paper = Paper(server, home)
    try:
        market_order(paper, "Ask", "1")
        wait_for(
            lambda: signed_get(paper, "/wapi/v1/history/funding", "fundingHistoryQueryAll").json(),
            20,
            "a funding payment",
        )
    finally:
        server.stop()
    server = ServerThread(config, home).start()
    paper = Paper(server, home)
    try:
        rows = signed_get(paper, "/wapi/v1/history/funding", "fundingHistoryQueryAll").json()
        ends = [r["intervalEndTimestamp"] for r in rows]
        assert len(ends) == len(set(ends))  # one payment per interval, even across the restart
        [pos] = signed_get(paper, "/api/v1/position", "positionQuery").json()
        assert D(pos["cumulativeFundingPayment"]) >= sum((D(r["quantity"]) for r in rows), D(0))
        assert D(pos["cumulativeFundingPayment"]) > 0  # a short receives a positive rate
    finally:
        server.stop()


def test_liquidation_closes_at_market_with_liquidation_origin(make_paper: Any) -> None:
    """A leveraged long below maintenance is closed: fills, history and stream say so."""
    paper = make_paper(liquidation=True, maintenance_margin="0.05")
    # 90,000 notional on 10,000 USDC + 100 SOL (25,000): at 110 equity ~955 < 3,300 maintenance
    market_order(paper, "Bid", "600")
    updates: list[dict[str, Any]] = []

    async def watch() -> None:
        async with connect(paper.ws_url) as ws:
            ts = int(time.time() * 1000)
            headers = signing.sign_request("subscribe", None, SECRET, ts)
            await ws.send(
                orjson.dumps(
                    {
                        "method": "SUBSCRIBE",
                        "params": ["account.orderUpdate"],
                        "signature": [
                            headers["X-API-Key"],
                            headers["X-Signature"],
                            headers["X-Timestamp"],
                            headers["X-Window"],
                        ],
                    }
                ).decode()
            )
            assert "error" not in orjson.loads(await ws.recv())
            await asyncio.to_thread(paper.set_price, PERP, "110")
            async with asyncio.timeout(20):
                while not any(u.get("X") == "Filled" for u in updates):
                    message = orjson.loads(await ws.recv())
                    updates.append(message["data"])

    asyncio.run(watch())

    left = signed_get(paper, "/api/v1/position", "positionQuery")
    assert left.json() == [], updates
    assert {u["O"] for u in updates} == {"LIQUIDATION_AUTOCLOSE"}
    assert {u["e"] for u in updates} >= {"orderAccepted", "orderFill"}
    fills = signed_get(paper, "/wapi/v1/history/fills", "fillHistoryQueryAll").json()
    liquidation = [f for f in fills if f.get("systemOrderType") == "LiquidatePositionOnBook"]
    assert [(f["side"], D(f["quantity"])) for f in liquidation] == [("Ask", D("600"))]
    orders = signed_get(paper, "/wapi/v1/history/orders", "orderHistoryQueryAll").json()
    closers = [o for o in orders if o.get("systemOrderType") == "LiquidatePositionOnBook"]
    assert len(closers) == 1 and closers[0]["reduceOnly"] is True


def test_collateral_shows_the_equity_open_orders_hold(make_paper: Any) -> None:
    """A resting perp bid holds its initial margin: `netEquityLocked`, out of the available."""
    paper = make_paper()

    def collateral() -> dict[str, Any]:
        answer = signed_get(paper, "/api/v1/capital/collateral", "collateralQuery")
        result: dict[str, Any] = answer.json()
        return result

    idle = collateral()
    assert D(idle["netEquityLocked"]) == 0
    assert D(idle["netEquityAvailable"]) == D(idle["netEquity"])

    async def bid() -> str:
        async with BackpackClient(paper.base_url, PUBLIC, SECRET) as client:
            order = OrderRequest(PERP, "Bid", "Limit", D("2"), D("140"))
            return (await client.execute_order(order)).id

    order_id = asyncio.run(bid())
    held = collateral()
    assert D(held["netEquityLocked"]) == 2 * D("140") * D("0.1")  # quantity x price x imf
    assert D(held["netEquityAvailable"]) == D(held["netEquity"]) - D(held["netEquityLocked"])

    async def cancel() -> None:
        async with BackpackClient(paper.base_url, PUBLIC, SECRET) as client:
            await client.cancel_order(PERP, order_id=order_id)

    asyncio.run(cancel())
    assert D(collateral()["netEquityLocked"]) == 0
