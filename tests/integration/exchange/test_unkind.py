"""HTTP-visible unkind behaviours against a real paper exchange: 202 cancels, 429 with
Retry-After, history that lags the open-orders view, the book model on the depth of fills."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gridkeeper.exchange import signing
from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.models import OrderRequest
from gridkeeper.exchange.paper.server import ServerThread
from tests.support import wait_for

from .conftest import PUBLIC, SECRET, Paper, paper_config

pytestmark = pytest.mark.integration


@pytest.fixture
def make_paper(tmp_path: Path) -> Iterator[Callable[..., Paper]]:
    servers: list[ServerThread] = []

    def make(**unkind: Any) -> Paper:
        home = tmp_path / f"home{len(servers)}"
        server = ServerThread(paper_config(unkind=unkind), home).start()
        servers.append(server)
        return Paper(server, home)

    yield make
    for server in servers:
        server.stop()


def signed(paper: Paper, method: str, path: str, instruction: str, body: Any) -> httpx.Response:
    headers = signing.sign_request(
        instruction, body, SECRET, time.time_ns() // 1_000_000, 5000, api_key=PUBLIC
    )
    if method == "GET":
        return httpx.get(paper.base_url + path, params=body, headers=headers, timeout=10)
    return httpx.request(
        method, paper.base_url + path, content=orjson.dumps(body), headers=headers, timeout=10
    )


def place(paper: Paper, req: OrderRequest) -> str:
    async def go() -> str:
        async with BackpackClient(paper.base_url, PUBLIC, SECRET) as client:
            return (await client.execute_order(req)).id

    return asyncio.run(go())


def open_ids(paper: Paper) -> set[str]:
    response = signed(paper, "GET", "/api/v1/orders", "orderQueryAll", {"symbol": "SOL_USDC"})
    return {o["id"] for o in response.json()}


def test_cancel_answers_202_and_the_order_stays_fillable_until_done(
    make_paper: Callable[..., Paper],
) -> None:
    paper = make_paper(cancel_delay_ms=1500)
    first = place(paper, OrderRequest("SOL_USDC", "Ask", "Limit", D("1"), D("151")))
    response = signed(
        paper, "DELETE", "/api/v1/order", "orderCancel", {"symbol": "SOL_USDC", "orderId": first}
    )
    assert response.status_code == 202 and response.content == b""
    assert first in open_ids(paper)  # accepted, not done: still open ...
    assert paper.set_price("SOL_USDC", "151.01") == 1  # ... and still fillable
    second = place(paper, OrderRequest("SOL_USDC", "Ask", "Limit", D("1"), D("160")))
    response = signed(
        paper, "DELETE", "/api/v1/order", "orderCancel", {"symbol": "SOL_USDC", "orderId": second}
    )
    assert response.status_code == 202
    wait_for(lambda: second not in open_ids(paper), what="the delayed cancel to complete")
    history = signed(
        paper, "GET", "/wapi/v1/history/orders", "orderHistoryQueryAll", {"symbol": "SOL_USDC"}
    ).json()
    statuses = {o["id"]: o["status"] for o in history}
    assert statuses == {first: "Filled", second: "Cancelled"}


def test_rate_limit_answers_429_with_retry_after(make_paper: Callable[..., Paper]) -> None:
    paper = make_paper(rate_limit={"enabled": True, "requests": 3, "window_s": 30})
    codes = [signed(paper, "GET", "/api/v1/capital", "balanceQuery", {}).status_code]
    codes += [signed(paper, "GET", "/api/v1/capital", "balanceQuery", {}).status_code]
    codes += [signed(paper, "GET", "/api/v1/capital", "balanceQuery", {}).status_code]
    assert codes == [200, 200, 200]
    refused = signed(paper, "GET", "/api/v1/capital", "balanceQuery", {})
    assert refused.status_code == 429
    assert refused.json()["code"] == "TOO_MANY_REQUESTS"
    assert 1 <= int(refused.headers["Retry-After"]) <= 30
    # the budget is per key: public requests without a key, health and admin still pass
    assert httpx.get(paper.base_url + "/api/v1/markets", timeout=5).status_code == 200
    assert httpx.get(paper.base_url + "/health", timeout=5).status_code == 200
    assert paper.set_price("SOL_USDC", "150") == 0
    # a made-up key gets no budget of its own: it shares the address's (one used just above)
    fake = {"X-API-Key": "bm90LWEta2V5"}
    fakes = [
        httpx.get(paper.base_url + "/api/v1/markets", headers=fake, timeout=5).status_code
        for _ in range(3)
    ]
    assert fakes == [200, 200, 429]
    stats = httpx.get(
        paper.base_url + "/_paper/stats",
        headers={"Authorization": f"Bearer {paper.token}"},
        timeout=5,
    ).json()
    assert stats["rate_limited"] == 2 and stats["rate_limited_orders"] == 0


def test_history_lags_the_open_orders_view(make_paper: Callable[..., Paper]) -> None:
    paper = make_paper(history_delay_ms=3000)
    order_id = place(paper, OrderRequest("SOL_USDC", "Bid", "Limit", D("1"), D("151")))

    def history(kind: str, instruction: str) -> list[dict[str, Any]]:
        response = signed(paper, "GET", f"/wapi/v1/history/{kind}", instruction, {})
        result: list[dict[str, Any]] = response.json()
        return result

    # filled at once: gone from open orders, but not yet in the history
    assert order_id not in open_ids(paper)
    assert history("fills", "fillHistoryQueryAll") == []
    assert history("orders", "orderHistoryQueryAll") == []
    fills = wait_for(lambda: history("fills", "fillHistoryQueryAll"), what="lagging fill history")
    assert [f["orderId"] for f in fills] == [order_id]
    orders = wait_for(lambda: history("orders", "orderHistoryQueryAll"), what="order history")
    assert [(o["id"], o["status"]) for o in orders] == [(order_id, "Filled")]


def test_book_model_market_order_walks_levels(make_paper: Callable[..., Paper]) -> None:
    paper = make_paper(liquidity={"enabled": True, "depth_per_level": "1", "half_spread_ticks": 2})
    place(paper, OrderRequest("SOL_USDC", "Bid", "Market", D("2.5")))
    fills = signed(paper, "GET", "/wapi/v1/history/fills", "fillHistoryQueryAll", {}).json()
    assert sorted(f["price"] for f in fills) == ["150.02", "150.03", "150.04"]
