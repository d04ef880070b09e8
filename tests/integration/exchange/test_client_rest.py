"""The client's whole REST surface against a real paper exchange over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.errors import AuthError, RejectedError
from gridkeeper.exchange.models import OrderRequest

from .conftest import PUBLIC, SECRET, Paper

pytestmark = pytest.mark.integration


def _client(paper: Paper, **kw: object) -> BackpackClient:
    return BackpackClient(paper.base_url, PUBLIC, SECRET, **kw)  # type: ignore[arg-type]


def test_public_market_data(paper: Paper) -> None:
    """Markets carry filters and account fees; ticker, depth and klines answer in shape."""

    async def go() -> None:
        async with _client(paper) as client:
            markets = {m.symbol: m for m in await client.get_markets()}
            spot = markets["SOL_USDC"]
            assert (spot.tick_size, spot.step_size, spot.market_type) == (
                D("0.01"),
                D("0.01"),
                "SPOT",
            )
            assert spot.maker_fee == D("0.0002") and spot.taker_fee == D("0.0005")
            assert markets["SOL_USDC_PERP"].market_type == "PERP"
            assert (await client.get_market("SOL_USDC_PERP")).symbol == "SOL_USDC_PERP"
            with pytest.raises(RejectedError):
                await client.get_market("NOPE_USDC")
            assert (await client.get_ticker("SOL_USDC")).last_price == D("150")
            depth = await client.get_depth("SOL_USDC")
            assert D(depth["bids"][-1][0]) < D("150") < D(depth["asks"][0][0])
            klines = await client.get_klines("SOL_USDC", "1m", 0)
            assert klines and D(klines[-1]["close"]) == D("150")

    asyncio.run(go())


def test_order_lifecycle_balances_and_history(paper: Paper) -> None:
    """Place, query by clientId, fill by price move, then see fills, history and balances."""

    async def go() -> None:
        async with _client(paper) as client:
            req = OrderRequest(
                "SOL_USDC", "Bid", "Limit", D("2"), D("149"), client_id=11, post_only=True
            )
            order = await client.execute_order(req)
            assert order.status == "New" and order.client_id == 11 and order.price == D("149")
            found = await client.get_open_order("SOL_USDC", client_id=11)
            assert found is not None and found.id == order.id
            balances = await client.get_balances()
            assert balances["USDC"].locked == D("298")
            assert [o.id for o in await client.get_open_orders("SOL_USDC")] == [order.id]

            assert paper.set_price("SOL_USDC", "148.5") == 1
            assert await client.get_open_order("SOL_USDC", order_id=order.id) is None
            [fill] = await client.get_fills("SOL_USDC")
            assert (fill.order_id, fill.price, fill.quantity, fill.is_maker) == (
                order.id,
                D("149"),
                D("2"),
                True,
            )
            assert fill.client_id == 11 and fill.fee == D("0.0004") and fill.fee_symbol == "SOL"
            [hist] = await client.get_order_history("SOL_USDC")
            assert hist.status == "Filled" and hist.executed_quantity == D("2")
            balances = await client.get_balances()
            assert balances["SOL"].available == D("101.9996")
            assert balances["USDC"].total == D("9702")
            found_again = await client.find_order("SOL_USDC", client_id=11)
            assert found_again is not None and found_again.status == "Filled"

    asyncio.run(go())


def test_rejections_and_cancel(paper: Paper) -> None:
    """Post-only crossing, insufficient funds and bad ticks are RejectedErrors; cancel frees."""

    async def go() -> None:
        async with _client(paper) as client:
            with pytest.raises(RejectedError) as info:
                await client.execute_order(
                    OrderRequest("SOL_USDC", "Bid", "Limit", D("1"), D("151"), post_only=True)
                )
            assert info.value.reason == "PostOnlyTaker" and info.value.status == 400
            with pytest.raises(RejectedError) as info:
                await client.execute_order(OrderRequest("SOL_USDC", "Ask", "Market", D("5000")))
            assert info.value.code == "INSUFFICIENT_FUNDS"
            with pytest.raises(RejectedError) as info:
                await client.execute_order(
                    OrderRequest("SOL_USDC", "Bid", "Limit", D("1"), D("149.001"))
                )
            assert info.value.code == "INVALID_PRICE"
            order = await client.execute_order(
                OrderRequest("SOL_USDC", "Ask", "Limit", D("3"), D("152"), client_id=5)
            )
            cancelled = await client.cancel_order("SOL_USDC", client_id=5)
            assert cancelled.id == order.id and cancelled.status == "Cancelled"
            with pytest.raises(RejectedError) as info:
                await client.cancel_order("SOL_USDC", order_id=order.id)
            assert info.value.code == "RESOURCE_NOT_FOUND"
            assert (await client.get_balances())["SOL"].locked == 0

    asyncio.run(go())


def test_batch_cancel_all_and_perp_position(paper: Paper) -> None:
    """Batch returns per-order results; cancel_all empties the book; perp PnL via positions."""

    async def go() -> None:
        async with _client(paper) as client:
            results = await client.execute_orders(
                [
                    OrderRequest("SOL_USDC", "Bid", "Limit", D("1"), D("140"), client_id=1),
                    OrderRequest("SOL_USDC", "Bid", "Limit", D("1"), D("141"), client_id=2),
                    OrderRequest("SOL_USDC", "Bid", "Limit", D("0.001"), D("141"), client_id=3),
                ]
            )
            assert [type(r).__name__ for r in results] == ["Order", "Order", "RejectedError"]
            cancelled = await client.cancel_all("SOL_USDC")
            assert sorted(o.client_id or 0 for o in cancelled) == [1, 2]
            assert await client.get_open_orders() == []

            assert await client.get_positions() == []
            await client.execute_order(OrderRequest("SOL_USDC_PERP", "Bid", "Market", D("2")))
            paper.set_price("SOL_USDC_PERP", "160")
            [pos] = await client.get_positions()
            assert pos.net_quantity == D("2") and pos.mark_price == D("160")
            assert pos.unrealized_pnl == D("2") * (D("160") - pos.entry_price)
            close = OrderRequest("SOL_USDC_PERP", "Ask", "Market", D("1"), reduce_only=True)
            await client.execute_order(close)
            [pos] = await client.get_positions()
            assert pos.net_quantity == D("1") and pos.realized_pnl > 0
            collateral = await client.get_collateral()
            assert D(collateral["netEquity"]) > D("10000")

    asyncio.run(go())


def test_signature_rejections(paper: Paper) -> None:
    """A wrong key, a stale timestamp and a tampered body are refused as Backpack would."""
    import time

    import httpx

    from gridkeeper.exchange import signing

    async def go() -> None:
        other_secret, other_public = signing.keygen()
        async with BackpackClient(paper.base_url, other_public, other_secret) as stranger:
            with pytest.raises(AuthError) as info:
                await stranger.get_balances()
            assert info.value.status == 401
        async with BackpackClient(paper.base_url, PUBLIC, other_secret) as wrong_secret:
            with pytest.raises(AuthError, match="signature"):
                await wrong_secret.get_balances()

    asyncio.run(go())
    stale = int(time.time() * 1000) - 60_000
    headers = signing.sign_request("balanceQuery", {}, SECRET, stale, 5000)
    response = httpx.get(paper.base_url + "/api/v1/capital", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"code": "INVALID_CLIENT_REQUEST", "message": "Request has expired"}

    body = {
        "symbol": "SOL_USDC",
        "side": "Bid",
        "orderType": "Limit",
        "price": "140",
        "quantity": "1",
    }
    now = int(time.time() * 1000)
    headers = signing.sign_request("orderExecute", body, SECRET, now, 5000)
    tampered = {**body, "quantity": "50"}
    response = httpx.post(paper.base_url + "/api/v1/order", json=tampered, headers=headers)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}
    ok = httpx.post(paper.base_url + "/api/v1/order", json=body, headers=headers)
    assert ok.status_code == 200 and ok.json()["quantity"] == "1"
