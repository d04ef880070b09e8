"""Parsing request bodies and query strings into engine inputs, with Backpack's 400 errors."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from gridkeeper.exchange.paper.engine import EngineReject, OrderInput

UINT32_MAX = 2**32 - 1


def bad_request(message: str) -> EngineReject:
    return EngineReject("INVALID_CLIENT_REQUEST", message, 400)


def decimal_field(data: Mapping[str, object], name: str, *, required: bool) -> Decimal | None:
    value = data.get(name)
    if value is None:
        if required:
            raise bad_request(f"Missing field {name}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise bad_request(f"Invalid {name}")
    try:
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise bad_request(f"Invalid decimal {name}") from exc
    if not result.is_finite():
        raise bad_request(f"Invalid decimal {name}")
    return result


def client_id_field(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT32_MAX:
        raise bad_request("clientId must be a uint32")
    return value


def bool_field(data: Mapping[str, object], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be a boolean")
    return value


def order_input(data: object, last_price: Decimal | None) -> OrderInput:
    if not isinstance(data, dict):
        raise bad_request("Expected an order object")
    symbol = data.get("symbol")
    if not isinstance(symbol, str):
        raise bad_request("Missing field symbol")
    order_type = str(data.get("orderType", ""))
    quantity = decimal_field(data, "quantity", required=False)
    if quantity is None:
        quote = decimal_field(data, "quoteQuantity", required=False)
        if quote is None or order_type != "Market" or not last_price:
            raise bad_request("Missing field quantity")
        quantity = quote / last_price
    return OrderInput(
        symbol=symbol,
        side=str(data.get("side", "")),
        order_type=order_type,
        quantity=quantity,
        price=decimal_field(data, "price", required=False),
        client_id=client_id_field(data.get("clientId")),
        time_in_force=str(data.get("timeInForce") or "GTC"),
        post_only=bool_field(data, "postOnly"),
        reduce_only=bool_field(data, "reduceOnly"),
        self_trade_prevention=str(data.get("selfTradePrevention") or "RejectTaker"),
    )


def int_param(params: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise bad_request(f"Invalid integer {name}") from exc
