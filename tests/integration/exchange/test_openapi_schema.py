"""Every endpoint the paper exchange serves answers what Backpack's OpenAPI says it answers.

Real responses from a real server on 127.0.0.1 are validated against the response schema of
their path, method and status in `shared/reference/backpack-openapi.json` ($refs resolved by
jsonschema). A missing required field, a number where a string is declared, an enum value
Backpack does not have, or a `null` (the spec declares no nullable field) fails the test.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import orjson
import pytest
from starlette.routing import Route

from gridkeeper.exchange import signing

from .conftest import SECRET, Paper

pytestmark = pytest.mark.integration

SPEC_NAME = Path("shared") / "reference" / "backpack-openapi.json"
# Served for ccxt's load_markets but absent from the OpenAPI (no tokenized stocks here).
NOT_IN_SPEC = {("/api/v1/securities", "GET")}


def _spec_path() -> Path:
    """`shared/reference/` sits beside the checkout (CI) or a few levels up (worktrees)."""
    for folder in Path(__file__).resolve().parents:
        if (folder / SPEC_NAME).exists():
            return folder / SPEC_NAME
    raise AssertionError(f"Backpack's OpenAPI ({SPEC_NAME}) not found above {__file__}")


SPEC: dict[str, Any] = orjson.loads(_spec_path().read_bytes())


class Checker:
    """Sends requests and validates each answer against the spec; remembers what it covered."""

    def __init__(self, paper: Paper) -> None:
        self.base = paper.base_url
        self.http = httpx.Client(base_url=self.base, timeout=10)
        self.covered: set[tuple[str, str]] = set()

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def schema(self, path: str, method: str, status: int) -> tuple[str, dict[str, Any]]:
        operation = SPEC["paths"][path][method.lower()]
        response = operation["responses"][str(status)]
        ((content_type, body),) = response["content"].items()
        # The response schema plus the spec's components, so "#/components/..." resolves.
        return content_type, {**body["schema"], "components": SPEC["components"]}

    def validate(self, path: str, method: str, status: int, data: Any) -> None:
        _, schema = self.schema(path, method, status)
        jsonschema.Draft202012Validator(schema).validate(data)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        instruction: str | None = None,
        status: int = 200,
    ) -> Any:
        headers: dict[str, str] = {}
        if instruction is not None:
            signed = params if method == "GET" else body
            headers = signing.sign_request(instruction, signed, SECRET, int(time.time() * 1000))
        response = self.http.request(
            method,
            path,
            params=params,
            content=orjson.dumps(body) if body is not None else None,
            headers={**headers, "Content-Type": "application/json"}
            if body is not None
            else headers,
        )
        assert response.status_code == status, (method, path, response.text)
        content_type, _ = self.schema(path, method, status)
        assert response.headers["content-type"] == content_type, (path, content_type)
        data = response.json() if content_type.startswith("application/json") else response.text
        self.validate(path, method, status, data)
        self.covered.add((path, method))
        return data


def test_every_served_endpoint_matches_the_openapi(paper: Paper) -> None:
    with Checker(paper) as c:
        _exercise_every_endpoint(paper, c)


def _exercise_every_endpoint(paper: Paper, c: Checker) -> None:
    paper.set_price("SOL_USDC", "151")
    paper.set_price("SOL_USDC", "150")

    # -- public --
    c.call("GET", "/api/v1/assets")
    markets = c.call("GET", "/api/v1/markets")
    assert {m["symbol"] for m in markets} == {"SOL_USDC", "SOL_USDC_PERP"}
    c.call("GET", "/api/v1/market", params={"symbol": "SOL_USDC_PERP"})
    c.call("GET", "/api/v1/market", params={"symbol": "NOPE"}, status=400)
    c.call("GET", "/api/v1/ticker", params={"symbol": "SOL_USDC", "interval": "1w"})
    c.call("GET", "/api/v1/tickers")
    depth = c.call("GET", "/api/v1/depth", params={"symbol": "SOL_USDC", "limit": "5"})
    assert len(depth["bids"]) == len(depth["asks"]) == 5
    c.call("GET", "/api/v1/depth", params={"symbol": "SOL_USDC", "limit": "7"}, status=400)
    klines = c.call(
        "GET", "/api/v1/klines", params={"symbol": "SOL_USDC", "interval": "1m", "startTime": 0}
    )
    assert klines
    c.call("GET", "/api/v1/klines", params={"symbol": "SOL_USDC", "interval": "9m"}, status=400)
    trades = c.call("GET", "/api/v1/trades", params={"symbol": "SOL_USDC", "limit": 2})
    assert [t["price"] for t in trades] == ["151", "150"]
    c.call("GET", "/api/v1/trades/history", params={"symbol": "SOL_USDC", "offset": 1})
    assert c.call("GET", "/api/v1/status")["status"] == "Ok"
    assert c.call("GET", "/api/v1/ping") == "pong"
    assert int(c.call("GET", "/api/v1/time")) > 0

    # -- account --
    c.call("GET", "/api/v1/account", instruction="accountQuery")
    c.call("GET", "/api/v1/capital", instruction="balanceQuery")
    order = {"symbol": "SOL_USDC_PERP", "side": "Bid", "orderType": "Market", "quantity": "2"}
    c.call("POST", "/api/v1/order", body=order, instruction="orderExecute")
    paper.set_price("SOL_USDC_PERP", "151.23")
    collateral = c.call("GET", "/api/v1/capital/collateral", instruction="collateralQuery")
    assert "marginFraction" in collateral
    (position,) = c.call("GET", "/api/v1/position", instruction="positionQuery")
    assert len(position["entryPrice"].partition(".")[2]) <= 2  # tick decimals, not 28 digits
    c.call(
        "GET",
        "/api/v1/position",
        params={"symbol": "SOL_USDC"},
        instruction="positionQuery",
        status=404,
    )
    c.call("GET", "/api/v1/position", status=401)

    # -- orders --
    limit = {
        "symbol": "SOL_USDC",
        "side": "Bid",
        "orderType": "Limit",
        "price": "140",
        "quantity": "1",
        "clientId": 5,
        "postOnly": True,
    }
    placed = c.call("POST", "/api/v1/order", body=limit, instruction="orderExecute")
    bad = {**limit, "price": 140}  # a JSON number where the spec says string
    c.call("POST", "/api/v1/order", body=bad, instruction="orderExecute", status=400)
    c.call(
        "GET",
        "/api/v1/order",
        params={"symbol": "SOL_USDC", "orderId": placed["id"]},
        instruction="orderQuery",
    )
    c.call(
        "GET",
        "/api/v1/order",
        params={"symbol": "SOL_USDC", "orderId": "999999"},
        instruction="orderQuery",
        status=404,
    )
    c.call("GET", "/api/v1/orders", params={"marketType": "SPOT"}, instruction="orderQueryAll")
    batch = [{**limit, "clientId": 6}, {**limit, "clientId": 7, "price": "1"}]
    results = c.call("POST", "/api/v1/orders", body=batch, instruction="orderExecute")
    assert [r["operation"] for r in results] == ["Ok", "Err"]
    c.call(
        "DELETE",
        "/api/v1/order",
        body={"symbol": "SOL_USDC", "clientId": 5},
        instruction="orderCancel",
    )
    c.call("DELETE", "/api/v1/orders", body={"symbol": "SOL_USDC"}, instruction="orderCancelAll")
    history = c.call("GET", "/wapi/v1/history/orders", instruction="orderHistoryQueryAll")
    assert {o["status"] for o in history} == {"Filled", "Cancelled"}
    fills = c.call(
        "GET",
        "/wapi/v1/history/fills",
        params={"fillType": "User", "marketType": "PERP"},
        instruction="fillHistoryQueryAll",
    )
    assert [f["symbol"] for f in fills] == ["SOL_USDC_PERP"]
    (mark,) = c.call("GET", "/api/v1/markPrices", params={"symbol": "SOL_USDC_PERP"})
    assert mark["symbol"] == "SOL_USDC_PERP"
    c.call("GET", "/api/v1/fundingRates", params={"symbol": "SOL_USDC_PERP"})
    c.call("GET", "/api/v1/openInterest", params={"symbol": "SOL_USDC_PERP"})
    c.call("GET", "/wapi/v1/history/funding", instruction="fundingHistoryQueryAll")

    # Every Backpack route the app serves was exercised above.
    app = paper.server.server.config.app
    served = {
        (route.path, method)
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith(("/api/", "/wapi/"))
        for method in route.methods or ()
        if method != "HEAD"
    }
    missing = served - c.covered - NOT_IN_SPEC
    assert not missing, f"served but not validated: {sorted(missing)}"


def test_the_check_catches_a_missing_field_and_a_wrong_type(paper: Paper) -> None:
    """The validator is live: the same real answer, broken, no longer validates."""
    with Checker(paper) as c:
        ticker = c.call("GET", "/api/v1/ticker", params={"symbol": "SOL_USDC"})
    missing = copy.deepcopy(ticker)
    del missing["lastPrice"]
    with pytest.raises(jsonschema.ValidationError):
        c.validate("/api/v1/ticker", "GET", 200, missing)
    wrong = {**ticker, "lastPrice": 150}
    with pytest.raises(jsonschema.ValidationError):
        c.validate("/api/v1/ticker", "GET", 200, wrong)
    nulled = {**ticker, "volume": None}
    with pytest.raises(jsonschema.ValidationError):
        c.validate("/api/v1/ticker", "GET", 200, nulled)
