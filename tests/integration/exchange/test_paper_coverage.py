"""What a third-party client meets: JSON 404/405, refused inputs, precision, public streams."""

from __future__ import annotations

import asyncio
import re
import time
from decimal import Decimal as D
from typing import Any

import httpx
import orjson
import pytest
import websockets

from gridkeeper.exchange import signing

from .conftest import SECRET, Paper

pytestmark = pytest.mark.integration

NUMBER = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?")
LIMIT = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "149", "quantity": "1"}


def _signed(
    paper: Paper, method: str, path: str, instruction: str, body: Any = None, **params: Any
) -> httpx.Response:
    signed = params if method == "GET" else body
    headers = signing.sign_request(instruction, signed, SECRET, int(time.time() * 1000))
    content = orjson.dumps(body) if body is not None else None
    if content is not None:
        headers["Content-Type"] = "application/json"
    return httpx.request(
        method, paper.base_url + path, params=params, content=content, headers=headers
    )


def test_unknown_route_and_wrong_method_answer_json(paper: Paper) -> None:
    missing = httpx.get(paper.base_url + "/api/v1/nope")
    assert missing.status_code == 404
    assert missing.json()["code"] == "RESOURCE_NOT_FOUND"
    assert missing.headers["content-type"].startswith("application/json")
    wrong = httpx.put(paper.base_url + "/api/v1/order")
    assert wrong.status_code == 405
    assert set(wrong.json()) == {"code", "message"}
    assert "DELETE" in wrong.headers["allow"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"triggerPrice": "150"}, "triggerPrice"),
        ({"stopLossTriggerPrice": "140"}, "stopLossTriggerPrice"),
        ({"takeProfitTriggerPrice": "160"}, "takeProfitTriggerPrice"),
        ({"timeInForce": "GTD"}, "timeInForce"),
        ({"clientId": "12"}, "clientId"),
        ({"price": 149}, "price must be a decimal string"),
        ({"quantity": 1}, "quantity must be a decimal string"),
        ({"postOnly": "true"}, "postOnly must be a boolean"),
        ({"autoBorrow": True}, "autoBorrow"),
        ({"selfTradePrevention": "Whatever"}, "selfTradePrevention"),
        ({"postonly": True}, "Unknown order field"),
        ({"orderType": "Market", "price": "149"}, "Market orders take no price"),
        ({"orderType": "StopLimit"}, "orderType"),
    ],
)
def test_refused_inputs_place_nothing(paper: Paper, change: dict[str, Any], words: str) -> None:
    """Each is a 400 naming the problem; no order is created, nothing fills, nothing is held."""
    response = _signed(paper, "POST", "/api/v1/order", "orderExecute", {**LIMIT, **change})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_CLIENT_REQUEST"
    assert words in response.json()["message"]
    assert _signed(paper, "GET", "/api/v1/orders", "orderQueryAll").json() == []
    assert _signed(paper, "GET", "/wapi/v1/history/fills", "fillHistoryQueryAll").json() == []
    usdc = _signed(paper, "GET", "/api/v1/capital", "balanceQuery").json()["USDC"]
    assert usdc == {"available": "10000", "locked": "0", "staked": "0"}


def test_query_params_are_typed(paper: Paper) -> None:
    bad_client = _signed(
        paper, "GET", "/api/v1/order", "orderQuery", symbol="SOL_USDC", clientId="x"
    )
    assert bad_client.status_code == 400
    bad_limit = httpx.get(paper.base_url + "/api/v1/trades?symbol=SOL_USDC&limit=-1")
    assert bad_limit.status_code == 400 and bad_limit.json()["code"] == "INVALID_CLIENT_REQUEST"
    bad_type = _signed(paper, "GET", "/api/v1/orders", "orderQueryAll", marketType="FUTURE")
    assert bad_type.status_code == 400


def test_market_order_by_quote_quantity_rounds_down_to_the_step(paper: Paper) -> None:
    body = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Market", "quoteQuantity": "100"}
    order = _signed(paper, "POST", "/api/v1/order", "orderExecute", body)
    assert order.status_code == 200, order.text
    assert order.json()["executedQuantity"] == "0.66"  # 100 / 150 = 0.666… → 0.66


def test_orders_filter_by_market_type(paper: Paper) -> None:
    for symbol, price in (("SOL_USDC", "140"), ("SOL_USDC_PERP", "141")):
        placed = _signed(
            paper,
            "POST",
            "/api/v1/order",
            "orderExecute",
            {**LIMIT, "symbol": symbol, "price": price},
        )
        assert placed.status_code == 200, placed.text
    perp = _signed(paper, "GET", "/api/v1/orders", "orderQueryAll", marketType="PERP").json()
    assert [o["symbol"] for o in perp] == ["SOL_USDC_PERP"]
    spot = _signed(paper, "GET", "/api/v1/orders", "orderQueryAll", marketType="SPOT").json()
    assert [o["symbol"] for o in spot] == ["SOL_USDC"]


def test_numbers_are_rendered_at_market_precision(paper: Paper) -> None:
    """Three perp buys at different prices: an average entry with many digits comes out at the
    tick's decimals, PnL and balances at 8 decimals, never in exponent notation."""
    for price in ("150.01", "150.02", "150.04"):
        paper.set_price("SOL_USDC_PERP", price)
        body = {**LIMIT, "symbol": "SOL_USDC_PERP", "price": price, "quantity": "1"}
        assert _signed(paper, "POST", "/api/v1/order", "orderExecute", body).status_code == 200
    paper.set_price("SOL_USDC_PERP", "151")
    (position,) = _signed(paper, "GET", "/api/v1/position", "positionQuery").json()
    assert position["entryPrice"] == "150.02"  # 450.07 / 3 = 150.02333…
    assert position["netQuantity"] == "3"
    assert position["pnlUnrealized"] == "2.93"  # 3 * (151 - 150.02333...) = 2.93
    collateral = _signed(paper, "GET", "/api/v1/capital/collateral", "collateralQuery").json()
    capital = _signed(paper, "GET", "/api/v1/capital", "balanceQuery").json()
    numbers = [
        text
        for text in _leaves([collateral, capital, position])
        if isinstance(text, str) and NUMBER.fullmatch(text.replace("E", "e"))
    ]
    assert len(numbers) > 20
    for text in numbers:
        assert "e" not in text.lower(), text  # never exponent notation
        assert len(text.partition(".")[2]) <= 8, text
    assert D(collateral["netEquity"]) > 0


def _leaves(data: Any) -> list[Any]:
    if isinstance(data, dict):
        return [leaf for value in data.values() for leaf in _leaves(value)]
    if isinstance(data, list):
        return [leaf for value in data for leaf in _leaves(value)]
    return [data]


def _text(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


async def _collect(ws: Any, *streams: str, timeout: float = 10.0) -> dict[str, dict[str, Any]]:
    """The first message of each of `streams`, in whatever order they arrive."""
    found: dict[str, dict[str, Any]] = {}
    deadline = asyncio.get_running_loop().time() + timeout
    while set(streams) - set(found):
        remaining = deadline - asyncio.get_running_loop().time()
        message = orjson.loads(await asyncio.wait_for(ws.recv(), max(remaining, 0.01)))
        if message.get("stream") in streams:
            found.setdefault(message["stream"], message["data"])
    return found


async def _reply(ws: Any) -> dict[str, Any]:
    """The answer to a request, skipping stream messages still in flight."""
    while True:
        message: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        if "stream" not in message:
            return message


def test_public_streams_need_no_signature(paper: Paper) -> None:
    streams = [
        "bookTicker.SOL_USDC",
        "depth.SOL_USDC",
        "trade.SOL_USDC",
        "ticker.SOL_USDC",
        "kline.1m.SOL_USDC",
        "markPrice.SOL_USDC_PERP",
    ]

    async def go() -> None:
        async with websockets.connect(paper.ws_url) as ws:
            await ws.send(_text({"method": "SUBSCRIBE", "params": streams, "id": 1}))
            assert orjson.loads(await ws.recv()) == {"result": None, "id": 1}
            await asyncio.to_thread(paper.set_price, "SOL_USDC", "150.5")
            got = await _collect(ws, *streams[:-1])
            book = got["bookTicker.SOL_USDC"]
            assert (book["e"], book["b"], book["a"]) == ("bookTicker", "150.49", "150.51")
            depth = got["depth.SOL_USDC"]
            assert depth["U"] == depth["u"] and ["150.49", "10"] in depth["b"]
            assert ["149.99", "0"] in depth["b"]  # the level that left the book
            trade = got["trade.SOL_USDC"]
            assert (trade["p"], trade["m"]) == ("150.5", False)  # a rising print: buyer took
            ticker = got["ticker.SOL_USDC"]
            assert (ticker["c"], ticker["h"]) == ("150.5", "150.5")
            kline = got["kline.1m.SOL_USDC"]
            assert kline["c"] == "150.5" and kline["X"] is False
            await asyncio.to_thread(paper.set_price, "SOL_USDC_PERP", "149")
            mark = (await _collect(ws, "markPrice.SOL_USDC_PERP"))["markPrice.SOL_USDC_PERP"]
            assert mark["p"] == "149"

            # A REST snapshot carries the id the next depth event continues from.
            snapshot = httpx.get(paper.base_url + "/api/v1/depth?symbol=SOL_USDC").json()
            await asyncio.to_thread(paper.set_price, "SOL_USDC", "150.6")
            depth = (await _collect(ws, "depth.SOL_USDC"))["depth.SOL_USDC"]
            assert depth["U"] == int(snapshot["lastUpdateId"]) + 1

            await ws.send(_text({"method": "SUBSCRIBE", "params": ["account.orderUpdate"]}))
            refused = await _reply(ws)
            assert refused["error"]["code"] == 4006
            await ws.send(_text({"method": "SUBSCRIBE", "params": ["depth.NOPE"], "id": 2}))
            assert (await _reply(ws))["error"] == {
                "code": 4006,
                "message": "Invalid stream",
            }

    asyncio.run(go())


def test_position_updates_on_the_private_stream(paper: Paper) -> None:
    async def go() -> None:
        async with websockets.connect(paper.ws_url) as ws:
            ts = int(time.time() * 1000)
            sig = signing.sign(signing.signing_string("subscribe", None, ts, 5000), SECRET)
            key = signing.public_key_of(SECRET)
            await ws.send(
                orjson.dumps(
                    {
                        "method": "SUBSCRIBE",
                        "params": ["account.positionUpdate", "trade.SOL_USDC_PERP"],
                        "signature": [key, sig, str(ts), "5000"],
                        "id": 3,
                    }
                )
            )
            assert orjson.loads(await ws.recv()) == {"result": None, "id": 3}
            body = {
                "symbol": "SOL_USDC_PERP",
                "side": "Bid",
                "orderType": "Market",
                "quantity": "2",
            }
            placed = await asyncio.to_thread(
                _signed, paper, "POST", "/api/v1/order", "orderExecute", body
            )
            assert placed.status_code == 200, placed.text
            got = await _collect(ws, "account.positionUpdate", "trade.SOL_USDC_PERP")
            update = got["account.positionUpdate"]
            assert (update["e"], update["s"], update["q"]) == (
                "positionOpened",
                "SOL_USDC_PERP",
                "2",
            )
            trade = got["trade.SOL_USDC_PERP"]
            assert (trade["q"], trade["m"], trade["b"]) == ("2", False, placed.json()["id"])

    asyncio.run(go())
