"""Pure pieces of the paper exchange's API face: input typing, precision, streams, depth."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from gridkeeper.exchange.paper.book import EngineReject, MarketSpec, OrderInput, PositionState
from gridkeeper.exchange.paper.marketdata import depth_json, depth_limit
from gridkeeper.exchange.paper.payloads import cancel_target, order_input
from gridkeeper.exchange.paper.rules import is_multiple, validate
from gridkeeper.exchange.paper.serialize import money, position_json, px, qty
from gridkeeper.exchange.paper.ws import classify

SPEC = MarketSpec(
    symbol="SOL_USDC_PERP",
    base="SOL",
    quote="USDC",
    market_type="PERP",
    tick_size=D("0.05"),
    step_size=D("0.001"),
    min_quantity=D("0.001"),
    max_quantity=None,
    maker_fee=D("0.0002"),
    taker_fee=D("0.0005"),
    min_multiplier=D("0.5"),
    max_multiplier=D("2"),
    initial_margin=D("0.1"),
)


def test_order_input_takes_backpack_types() -> None:
    req = order_input(
        {
            "symbol": "SOL_USDC_PERP",
            "side": "Ask",
            "orderType": "Limit",
            "price": "151.05",
            "quantity": "0.5",
            "clientId": 4294967295,
            "timeInForce": "IOC",
            "reduceOnly": True,
            "selfTradePrevention": "RejectBoth",
            "brokerId": 1400,
            "autoBorrow": False,
        }
    )
    assert (req.price, req.quantity, req.client_id, req.time_in_force, req.reduce_only) == (
        D("151.05"),
        D("0.5"),
        4294967295,
        "IOC",
        True,
    )


@pytest.mark.parametrize(
    "change",
    [
        {"clientId": 4294967296},
        {"clientId": True},
        {"quantity": 0.5},
        {"price": "abc"},
        {"price": "NaN"},
        {"side": "Buy"},
        {"triggerQuantity": "1"},
        {"brokerId": "1400"},
        {"quantity": None, "quoteQuantity": "10"},  # quote amounts only on Market orders
        {"quantity": "1_0"},  # Python's Decimal takes underscores; Backpack's parser does not
        {"quantity": " 1 "},  # nor surrounding spaces
        {"price": "150\n"},
        {"price": "\u0661\u0665\u0660"},  # non-ASCII digits
        {"price": "Infinity"},
        {"price": "1e"},
        {"price": ""},
    ],
)
def test_order_input_refuses(change: dict[str, object]) -> None:
    base = {"symbol": "SOL_USDC_PERP", "side": "Bid", "orderType": "Limit", "price": "150"}
    with pytest.raises(EngineReject) as info:
        order_input({**base, "quantity": "1", **change}, SPEC, D("150"))
    assert (info.value.code, info.value.status) == ("INVALID_CLIENT_REQUEST", 400)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"quantity": "1E+30"}, "INVALID_QUANTITY"),
        ({"price": "1E+30"}, "INVALID_PRICE"),
        ({"quantity": "1" * 29}, "INVALID_QUANTITY"),  # past 28 significant digits
        ({"price": "0." + "0" * 28 + "1"}, "INVALID_PRICE"),  # past 28 decimal places
        ({"quantity": "1.0000000000000000000000000001"}, "INVALID_QUANTITY"),  # 29 digits
        ({"quantity": None, "quoteQuantity": "1E+40"}, "INVALID_QUANTITY"),
    ],
)
def test_order_input_refuses_numbers_out_of_range_with_the_field_code(
    change: dict[str, object], code: str
) -> None:
    """A decimal Backpack cannot hold is that field's error (400), not a crash later on."""
    base = {"symbol": "SOL_USDC_PERP", "side": "Bid", "orderType": "Limit", "price": "150"}
    if "quoteQuantity" in change:
        base = {**base, "orderType": "Market", "price": None}  # type: ignore[dict-item]
    with pytest.raises(EngineReject) as info:
        order_input({**base, "quantity": "1", **change}, SPEC, D("150"))
    assert (info.value.code, info.value.status) == (code, 400)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e2", D("100")),
        ("-0.5", D("-0.5")),
        (".5", D("0.5")),
        ("9" * 28, D("9" * 28)),
        ("150." + "0" * 40, D("150")),  # trailing zeros carry no precision
        ("0." + "0" * 27 + "1", D("1E-28")),
    ],
)
def test_order_input_takes_decimals_within_range(text: str, value: D) -> None:
    body = {"symbol": "SOL_USDC_PERP", "side": "Bid", "orderType": "Limit", "price": "150"}
    assert order_input({**body, "quantity": text}, SPEC, D("150")).quantity == value


def test_filters_judge_huge_multiples_exactly() -> None:
    """`%` at 28 digits raises InvalidOperation once the quotient has more digits (here
    10^28 + 1 steps); the filters must answer exactly instead."""
    assert is_multiple(D("100000000000000000000.00000001"), D("0.00000001"))
    assert not is_multiple(D("100000000000000000000.000000015"), D("0.00000001"))
    assert is_multiple(D("1E+27"), D("0.00000001"))
    req = OrderInput("SOL_USDC_PERP", "Bid", "Limit", D("1E+27"), D("150"))
    validate(SPEC, req, D("150"))  # a legal multiple: the engine judges the margin next
    with pytest.raises(EngineReject) as info:
        validate(SPEC, OrderInput("SOL_USDC_PERP", "Bid", "Limit", D("1"), D("1E+27")), D("150"))
    assert info.value.code == "INVALID_PRICE"  # out of the band, not a crash


def test_quote_quantity_rounds_down_to_the_step() -> None:
    body = {"symbol": "SOL_USDC_PERP", "side": "Bid", "orderType": "Market", "quoteQuantity": "10"}
    assert order_input(body, SPEC, D("3")).quantity == D("3.333")


def test_cancel_target_types_differ_between_body_and_query() -> None:
    assert cancel_target({"symbol": "S", "clientId": 7}, query=False) == ("S", None, 7)
    assert cancel_target({"symbol": "S", "clientId": "7"}, query=True) == ("S", None, 7)
    with pytest.raises(EngineReject):
        cancel_target({"symbol": "S", "clientId": "7"}, query=False)
    with pytest.raises(EngineReject):
        cancel_target({"symbol": "S", "orderId": "1", "clientId": 7}, query=False)


def test_precision_helpers() -> None:
    entry = D(45007) / D(300)  # 150.0233333333333333333333333
    assert px(SPEC, entry) == "150.02"  # tick 0.05 has two decimals
    assert qty(SPEC, D("1.23456")) == "1.235"
    assert money(D("1E-9")) == "0" and money(D("12345678.123456789")) == "12345678.12345679"
    assert money(D("1E+3")) == "1000"
    position = position_json(SPEC, PositionState(D("3"), entry, D("0")), D("151"), 1)
    assert position["entryPrice"] == "150.02" and position["pnlUnrealized"] == "2.93"
    assert None not in position.values()


def test_depth_honours_limit_and_refuses_other_values() -> None:
    book = depth_json(SPEC, D("150"), 1_000, depth_limit("5"), update_id=42)
    assert len(book["bids"]) == len(book["asks"]) == 5
    assert book["bids"][-1] == ["149.95", "10"] and book["asks"][0] == ["150.05", "10"]
    assert book["lastUpdateId"] == "42" and book["timestamp"] == 1_000_000
    assert len(depth_json(SPEC, D("150"), 0, depth_limit("100"))["asks"]) == 100
    with pytest.raises(EngineReject):
        depth_limit("7")


def test_stream_names() -> None:
    markets = {"SOL_USDC", "SOL_USDC_PERP"}
    assert classify("depth.SOL_USDC", markets) == "public"
    assert classify("kline.1h.SOL_USDC_PERP", markets) == "public"
    assert classify("account.orderUpdate", markets) == "private"
    assert classify("account.positionUpdate.SOL_USDC_PERP", markets) == "private"
    assert classify("kline.7m.SOL_USDC", markets) is None
    assert classify("depth.BTC_USDC", markets) is None
    assert classify("account.balanceUpdate", markets) is None
