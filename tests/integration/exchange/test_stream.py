"""The order-update stream: signed subscribe, Backpack fields, reconnect with REST backfill."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from gridkeeper.exchange import signing
from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.errors import AuthError
from gridkeeper.exchange.models import OrderRequest, OrderUpdate
from gridkeeper.exchange.stream import OrderUpdateStream

from .conftest import PUBLIC, SECRET, Paper

pytestmark = pytest.mark.integration


async def _next(it: object, timeout: float = 10.0) -> OrderUpdate:
    return await asyncio.wait_for(it.__anext__(), timeout)  # type: ignore[attr-defined]


def test_updates_reconnect_and_backfill(paper: Paper) -> None:
    """Accept and fill arrive with Backpack fields; after a drop, on_gap backfills the gap."""

    async def go() -> None:
        async with BackpackClient(paper.base_url, PUBLIC, SECRET) as client:
            backfilled: list[set[int | None]] = []

            async def on_gap() -> None:
                backfilled.append({o.client_id for o in await client.get_open_orders("SOL_USDC")})

            stream = OrderUpdateStream(
                paper.ws_url,
                PUBLIC,
                SECRET,
                symbol="SOL_USDC",
                on_gap=on_gap,
                backoff_initial_s=0.1,
            )
            updates = aiter(stream)
            first = asyncio.ensure_future(_next(updates))
            await asyncio.wait_for(stream.subscribed.wait(), 10)
            await client.execute_order(
                OrderRequest("SOL_USDC", "Bid", "Limit", D("1"), D("149"), client_id=1)
            )
            accepted = await first
            assert (accepted.event, accepted.client_id, accepted.status) == (
                "orderAccepted",
                1,
                "New",
            )
            assert accepted.price == D("149") and accepted.side == "Bid"

            await asyncio.to_thread(paper.set_price, "SOL_USDC", "148")
            fill = await _next(updates)
            assert (fill.event, fill.status, fill.last_fill_quantity, fill.last_fill_price) == (
                "orderFill",
                "Filled",
                D("1"),
                D("149"),
            )
            assert fill.is_maker is True and fill.fee_symbol == "SOL" and fill.trade_id

            # Drop the connection; an order placed meanwhile is not streamed but backfilled.
            await asyncio.to_thread(paper.admin, "/_paper/drop-streams")
            await client.execute_order(
                OrderRequest("SOL_USDC", "Bid", "Limit", D("1"), D("140"), client_id=2)
            )
            await client.execute_order(
                OrderRequest("SOL_USDC", "Bid", "Limit", D("1"), D("141"), client_id=3)
            )
            pending = asyncio.ensure_future(_next(updates))
            deadline = asyncio.get_running_loop().time() + 10
            while not backfilled:
                assert asyncio.get_running_loop().time() < deadline, "no reconnect"
                await asyncio.sleep(0.02)
            assert {2, 3} <= backfilled[0]
            await asyncio.wait_for(stream.subscribed.wait(), 10)
            await client.cancel_order("SOL_USDC", client_id=2)
            update = await pending
            assert (update.event, update.client_id, update.status) == (
                "orderCancelled",
                2,
                "Cancelled",
            )
            assert stream.connects == 2
            await stream.close()

    asyncio.run(go())


def test_bad_signature_on_subscribe_raises_auth_error(paper: Paper) -> None:
    """A subscription signed with the wrong secret ends the stream with AuthError."""

    async def go() -> None:
        other_secret, _ = signing.keygen()
        stream = OrderUpdateStream(paper.ws_url, PUBLIC, other_secret)
        with pytest.raises(AuthError):
            await _next(aiter(stream))

    asyncio.run(go())
