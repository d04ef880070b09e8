"""R1 review: the paper exchange's answers to hostile order inputs, against a real server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gridkeeper.exchange import signing
from gridkeeper.exchange.paper.server import ServerThread
from tests.integration.exchange.conftest import PUBLIC, SECRET, Paper, paper_config

pytestmark = pytest.mark.integration
PERP = "SOL_USDC_PERP"


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[Paper]:
    home = tmp_path / "home"
    server = ServerThread(paper_config(profile="realistic"), home).start()
    try:
        yield Paper(server, home)
    finally:
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


def bid(client_id: int, **fields: str) -> dict[str, Any]:
    order: dict[str, Any] = {
        "symbol": PERP,
        "side": "Bid",
        "orderType": "Limit",
        "quantity": "1",
        "price": "140",
        "clientId": client_id,
    }
    order.update(fields)
    return order


@pytest.mark.parametrize("field", ["quantity", "price"])
def test_decimal_with_a_huge_exponent_is_a_400_not_a_500(exchange: Paper, field: str) -> None:
    """`"1E+30"` is a finite decimal the filters cannot divide by the step/tick at 28 digits
    (decimal.InvalidOperation). Expected: 400 (INVALID_QUANTITY / INVALID_PRICE or
    INVALID_CLIENT_REQUEST), as Backpack answers an impossible number - never a 500, which a
    client must treat as "the order may have executed" (UnknownOutcomeError).

    At fault: rules.validate (`%` on an unbounded Decimal) / payloads._parse_decimal."""
    answer = signed(exchange, "POST", "/api/v1/order", "orderExecute", bid(1, **{field: "1E+30"}))
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] != "SERVER_ERROR"


def test_batch_with_one_unparsable_order_answers_per_order(exchange: Paper) -> None:
    """A batch whose second order has a quantity the engine cannot evaluate. Expected: 200 with
    one result per order - the first `Ok` (it was executed and is open), the second `Err` with
    a 4xx code. Today the whole batch answers 500 SERVER_ERROR although the first order was
    placed and committed: ccxt reports the batch failed, and a retry places it twice.

    At fault: routes_orders.orders_execute catches only EngineReject per item."""
    batch = [bid(1), bid(2, quantity="1E+30")]
    answer = signed(exchange, "POST", "/api/v1/orders", "orderExecute", batch)
    opened = signed(exchange, "GET", "/api/v1/orders", "orderQueryAll", {"symbol": PERP}).json()
    assert [o["clientId"] for o in opened] == [1]  # the first one did execute
    assert answer.status_code == 200, answer.text
    results = answer.json()
    assert [r["operation"] for r in results] == ["Ok", "Err"], results
    assert results[0]["clientId"] == 1
