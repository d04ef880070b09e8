"""Hostile numbers against a real paper exchange: 400s with Backpack's codes, never a 500."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import pytest

from gridkeeper.exchange import signing

from .conftest import PUBLIC, SECRET, Paper

pytestmark = pytest.mark.integration


def signed(paper: Paper, method: str, path: str, instruction: str, body: Any) -> httpx.Response:
    headers = signing.sign_request(
        instruction, body, SECRET, time.time_ns() // 1_000_000, 5000, api_key=PUBLIC
    )
    if method == "GET":
        return httpx.get(paper.base_url + path, params=body, headers=headers, timeout=10)
    return httpx.request(
        method, paper.base_url + path, content=orjson.dumps(body), headers=headers, timeout=10
    )


def admin_price(paper: Paper, price: str) -> httpx.Response:
    return httpx.post(
        paper.base_url + "/_paper/price",
        json={"symbol": "SOL_USDC", "price": price},
        headers={"Authorization": f"Bearer {paper.token}"},
        timeout=10,
    )


@pytest.mark.parametrize(
    ("price", "code"),
    [
        ("1E+30", "INVALID_PRICE"),
        ("0." + "0" * 30 + "1", "INVALID_PRICE"),
        ("1_50", "INVALID_CLIENT_REQUEST"),
        (" 150 ", "INVALID_CLIENT_REQUEST"),
    ],
)
def test_admin_price_refuses_numbers_backpack_could_not_hold(
    paper: Paper, price: str, code: str
) -> None:
    answer = admin_price(paper, price)
    assert (answer.status_code, answer.json()["code"]) == (400, code), answer.text
    assert admin_price(paper, "151").status_code == 200  # and the market still moves


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("quantity", "1_0", "INVALID_CLIENT_REQUEST"),
        ("quantity", " 1 ", "INVALID_CLIENT_REQUEST"),
        ("price", "140_0", "INVALID_CLIENT_REQUEST"),
        ("quantity", "1" * 29, "INVALID_QUANTITY"),
        ("price", "1E+30", "INVALID_PRICE"),
    ],
)
def test_order_refuses_decimals_backpack_would_not_parse(
    paper: Paper, field: str, value: str, code: str
) -> None:
    order = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit"}
    order |= {"quantity": "1", "price": "140", field: value}
    answer = signed(paper, "POST", "/api/v1/order", "orderExecute", order)
    assert (answer.status_code, answer.json()["code"]) == (400, code), answer.text
    opened = signed(paper, "GET", "/api/v1/orders", "orderQueryAll", {"symbol": "SOL_USDC"})
    assert opened.json() == []  # nothing was placed


def test_batch_answers_each_order_whatever_fails(paper: Paper) -> None:
    """Every item gets its own `Ok`/`Err`, in order; the good ones execute."""
    good = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "140"}
    batch = [
        {**good, "quantity": "1", "clientId": 1},
        {**good, "quantity": "1_0", "clientId": 2},
        {**good, "quantity": "1E+30", "clientId": 3},
        {**good, "quantity": "1", "clientId": "4"},  # a string clientId
        {**good, "quantity": "2", "clientId": 5},
    ]
    answer = signed(paper, "POST", "/api/v1/orders", "orderExecute", batch)
    assert answer.status_code == 200, answer.text
    results = answer.json()
    assert [r["operation"] for r in results] == ["Ok", "Err", "Err", "Err", "Ok"]
    assert [r.get("code") for r in results[1:4]] == [
        "INVALID_CLIENT_REQUEST",
        "INVALID_QUANTITY",
        "INVALID_CLIENT_REQUEST",
    ]
    opened = signed(paper, "GET", "/api/v1/orders", "orderQueryAll", {"symbol": "SOL_USDC"})
    assert [o["clientId"] for o in opened.json()] == [1, 5]
