"""kill -9 of the paper exchange loses no order, fill or balance; resting orders keep filling."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gridkeeper.exchange import signing
from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.models import OrderRequest
from tests.support import free_port, wait_for

from .conftest import PUBLIC, SECRET

pytestmark = pytest.mark.integration


def _start(config: Path, home: Path, port: int) -> subprocess.Popen[bytes]:
    log = home.parent / "exchange.log"
    argv = [sys.executable, "-m", "gridkeeper", "exchange", "--config", str(config)]
    argv += ["--home", str(home), "--port", str(port)]
    with log.open("ab") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)

    def healthy() -> bool:
        assert proc.poll() is None, log.read_text()
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200

    try:
        wait_for(healthy, 20, "the paper exchange's /health", ignore=(httpx.TransportError,))
    except AssertionError:
        proc.kill()
        raise
    return proc


def _price(home: Path, port: int, symbol: str, price: str) -> None:
    token = (home / "paper" / "admin.token").read_text().strip()
    response = httpx.post(
        f"http://127.0.0.1:{port}/_paper/price",
        json={"symbol": symbol, "price": price},
        headers={"Authorization": f"Bearer {token}"},
    )
    response.raise_for_status()


async def _snapshot(url: str) -> tuple[object, ...]:
    async with BackpackClient(url, PUBLIC, SECRET) as client:
        return (
            await client.get_open_orders(),
            await client.get_fills(),
            await client.get_balances(),
            await client.get_positions(),
            await client.get_order_history(),
        )


def test_sigkill_and_restart_keeps_everything(tmp_path: Path) -> None:
    """State after a SIGKILL equals state before; an order resting across it fills afterwards."""
    config = tmp_path / "paper.json"
    market = {"base_symbol": "SOL", "initial_price": "150"}
    config.write_bytes(
        orjson.dumps(
            {
                "markets": [
                    {"symbol": "SOL_USDC", "market_type": "SPOT", **market},
                    {"symbol": "SOL_USDC_PERP", "market_type": "PERP", **market},
                ],
                "price_source": {"kind": "manual"},
                "accounts": [
                    {"name": "t", "api_secret": SECRET, "balances": {"USDC": "10000", "SOL": "5"}}
                ],
            }
        )
    )
    home, port = tmp_path / "home", free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(config, home, port)

    async def trade() -> None:
        async with BackpackClient(url, PUBLIC, SECRET) as client:
            await client.execute_order(
                OrderRequest("SOL_USDC", "Bid", "Limit", D("1"), D("149"), client_id=1)
            )
            await client.execute_order(
                OrderRequest("SOL_USDC", "Bid", "Limit", D("1"), D("148"), client_id=2)
            )
            await client.execute_order(OrderRequest("SOL_USDC_PERP", "Ask", "Market", D("3")))

    try:
        asyncio.run(trade())
        _price(home, port, "SOL_USDC", "148.5")  # fills client 1 only
        before = asyncio.run(_snapshot(url))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc = _start(config, home, port)
        after = asyncio.run(_snapshot(url))
        assert after == before
        open_orders, fills = after[0], after[1]
        assert [o.client_id for o in open_orders] == [2]  # type: ignore[attr-defined]
        assert len(fills) == 2  # type: ignore[arg-type]

        _price(home, port, "SOL_USDC", "147.9")  # the order that rested across the kill fills

        async def check() -> None:
            async with BackpackClient(url, PUBLIC, SECRET) as client:
                assert await client.get_open_orders() == []
                assert len(await client.get_fills()) == 3
                assert (await client.get_balances())["SOL"].available == D("5") + D("2") - D(
                    "0.0004"
                )

        asyncio.run(check())
    finally:
        proc.kill()
        proc.wait(10)


def _signed(url: str, method: str, path: str, instruction: str, body: Any) -> httpx.Response:
    headers = signing.sign_request(
        instruction, body, SECRET, time.time_ns() // 1_000_000, 5000, api_key=PUBLIC
    )
    if method == "GET":
        return httpx.get(url + path, params=body, headers=headers, timeout=10)
    return httpx.request(
        method, url + path, content=orjson.dumps(body), headers=headers, timeout=10
    )


def test_a_cancel_accepted_with_202_completes_after_a_sigkill(tmp_path: Path) -> None:
    """A 202 cancel is a promise: the order must end Cancelled even if the exchange is killed
    before the cancel's due time and started again on the same home."""
    config = tmp_path / "paper.json"
    config.write_bytes(
        orjson.dumps(
            {
                "markets": [
                    {
                        "symbol": "SOL_USDC",
                        "market_type": "SPOT",
                        "base_symbol": "SOL",
                        "initial_price": "150",
                    }
                ],
                "price_source": {"kind": "manual"},
                "unkind": {"cancel_delay_ms": 3000},
                "accounts": [
                    {"name": "t", "api_secret": SECRET, "balances": {"USDC": "10000", "SOL": "5"}}
                ],
            }
        )
    )
    home, port = tmp_path / "home", free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(config, home, port)

    def open_ids() -> list[str]:
        answer = _signed(url, "GET", "/api/v1/orders", "orderQueryAll", {"symbol": "SOL_USDC"})
        return [o["id"] for o in answer.json()]

    try:
        order = {"symbol": "SOL_USDC", "side": "Ask", "orderType": "Limit"}
        order |= {"quantity": "1", "price": "160"}
        placed = _signed(url, "POST", "/api/v1/order", "orderExecute", order)
        assert placed.status_code == 200, placed.text
        order_id = placed.json()["id"]
        target = {"symbol": "SOL_USDC", "orderId": order_id}
        cancel = _signed(url, "DELETE", "/api/v1/order", "orderCancel", target)
        assert cancel.status_code == 202
        assert open_ids() == [order_id]  # accepted, not done, when the process dies
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc = _start(config, home, port)
        wait_for(lambda: open_ids() == [], what="the cancel accepted before the kill to complete")
        history = _signed(
            url, "GET", "/wapi/v1/history/orders", "orderHistoryQueryAll", {"symbol": "SOL_USDC"}
        ).json()
        assert [(o["id"], o["status"]) for o in history] == [(order_id, "Cancelled")]
        balances = _signed(url, "GET", "/api/v1/capital", "balanceQuery", {}).json()
        assert balances["SOL"] == {"available": "5", "locked": "0", "staked": "0"}
    finally:
        proc.kill()
        proc.wait(10)
