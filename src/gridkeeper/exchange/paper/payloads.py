"""Parsing request bodies and query strings into engine inputs, with Backpack's 400 errors.

Types follow Backpack's OpenAPI: in a JSON body prices and quantities are decimal *strings*
(a JSON number is refused), `clientId` is a uint32 *integer* (a string is refused), flags are
booleans. Fields Backpack knows but the paper exchange does not implement (trigger, stop-loss,
take-profit, slippage, borrow/lend) are refused with a 400 naming them, never ignored, and so is
any field Backpack does not know.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal

from gridkeeper.exchange.paper.book import MarketSpec
from gridkeeper.exchange.paper.engine import EngineReject, OrderInput

UINT32_MAX = 2**32 - 1
# Backpack's decimal strings: sign, ASCII digits, optional point and exponent; nothing else.
DECIMAL_SYNTAX = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
MAX_DIGITS = 28  # Backpack's 96-bit decimals: 28 significant digits ...
MAX_SCALE = 28  # ... and at most 28 decimal places
OUT_OF_RANGE_CODES = {
    "quantity": "INVALID_QUANTITY",
    "quoteQuantity": "INVALID_QUANTITY",
    "price": "INVALID_PRICE",
}
SIDES = ("Bid", "Ask")
ORDER_TYPES = ("Limit", "Market")
TIMES_IN_FORCE = ("GTC", "IOC", "FOK")
SELF_TRADE_PREVENTION = ("RejectTaker", "RejectMaker", "RejectBoth")
MARKET_TYPES = ("SPOT", "PERP", "IPERP", "DATED", "PREDICTION", "RFQ")
CANCEL_ORDER_TYPES = ("RestingLimitOrder", "ConditionalOrder")
# Known to Backpack, not implemented here: refusing beats silently placing a plain order.
UNSUPPORTED_ORDER_FIELDS = (
    "triggerPrice",
    "triggerQuantity",
    "triggerBy",
    "stopLossTriggerPrice",
    "stopLossLimitPrice",
    "stopLossTriggerBy",
    "takeProfitTriggerPrice",
    "takeProfitLimitPrice",
    "takeProfitTriggerBy",
    "slippageTolerance",
    "slippageToleranceType",
)
# Spot-margin flags: false is what the paper exchange does anyway; true is refused.
MARGIN_FLAGS = ("autoLend", "autoLendRedeem", "autoBorrow", "autoBorrowRepay")
ORDER_FIELDS = frozenset(
    {
        "symbol",
        "side",
        "orderType",
        "quantity",
        "quoteQuantity",
        "price",
        "clientId",
        "timeInForce",
        "postOnly",
        "reduceOnly",
        "selfTradePrevention",
        "brokerId",
        *MARGIN_FLAGS,
        *UNSUPPORTED_ORDER_FIELDS,
    }
)


def bad_request(message: str) -> EngineReject:
    return EngineReject("INVALID_CLIENT_REQUEST", message, 400)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an object" if isinstance(value, dict) else "an array"


def _parse_decimal(name: str, text: str) -> Decimal:
    """A decimal string as Backpack's parser takes it: plain ASCII digits with an optional sign,
    point and exponent. Python's Decimal is kinder (underscores, surrounding spaces, non-ASCII
    digits, NaN): those are refused here. Backpack's decimals hold at most 28 significant digits
    and 28 decimal places below 10^28; a number past that is refused with the field's code
    (`INVALID_QUANTITY` / `INVALID_PRICE`), never left to crash the filters later."""
    if DECIMAL_SYNTAX.fullmatch(text) is None:
        raise bad_request(f"Invalid decimal {name}: {text!r}")
    result = Decimal(text)
    if not _within_bounds(result):
        code = OUT_OF_RANGE_CODES.get(name, "INVALID_CLIENT_REQUEST")
        raise EngineReject(
            code,
            f"{name} {text!r} is out of range: at most {MAX_DIGITS} significant digits, "
            f"{MAX_SCALE} decimal places, below 1E+{MAX_DIGITS}",
            400,
        )
    return result


def _within_bounds(value: Decimal) -> bool:
    if value.is_zero():
        return True
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite: the syntax admits no NaN or Infinity
    significant = "".join(map(str, digits)).lstrip("0")
    stripped = significant.rstrip("0")
    exponent += len(significant) - len(stripped)  # trailing zeros carry no precision
    return len(stripped) <= MAX_DIGITS and -exponent <= MAX_SCALE and value.adjusted() < MAX_DIGITS


def decimal_field(data: Mapping[str, object], name: str, *, required: bool) -> Decimal | None:
    """A decimal sent as a JSON string (Backpack's `string`, format `decimal`)."""
    value = data.get(name)
    if value is None:
        if required:
            raise bad_request(f"Missing field {name}")
        return None
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a decimal string, not {_json_type(value)}")
    return _parse_decimal(name, value)


def string_field(
    data: Mapping[str, object],
    name: str,
    *,
    required: bool = False,
    choices: tuple[str, ...] | None = None,
) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise bad_request(f"Missing field {name}")
        return None
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string, not {_json_type(value)}")
    if choices is not None and value not in choices:
        raise bad_request(f"Invalid {name} {value!r}: one of {', '.join(choices)}")
    return value


def client_id_field(value: object) -> int | None:
    """`clientId` in a JSON body: a uint32 integer (Backpack refuses a string)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT32_MAX:
        raise bad_request("clientId must be a uint32 integer")
    return value


def bool_field(data: Mapping[str, object], name: str) -> bool:
    value = data.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be a boolean, not {_json_type(value)}")
    return value


def _check_fields(data: Mapping[str, object]) -> None:
    unknown = sorted(set(data) - ORDER_FIELDS)
    if unknown:
        raise bad_request(f"Unknown order field(s): {', '.join(unknown)}")
    present = [name for name in UNSUPPORTED_ORDER_FIELDS if data.get(name) is not None]
    if present:
        raise bad_request(
            f"Not supported by the paper exchange: {', '.join(present)} "
            "(trigger, stop-loss, take-profit and slippage orders are refused, not ignored)"
        )
    for name in MARGIN_FLAGS:
        if bool_field(data, name):
            raise bad_request(f"{name} is not supported by the paper exchange (no borrow/lend)")
    broker = data.get("brokerId")
    if broker is not None and (
        isinstance(broker, bool) or not isinstance(broker, int) or not 0 <= broker <= 65535
    ):
        raise bad_request("brokerId must be a uint16 integer")


def order_input(
    data: object, spec: MarketSpec | None = None, last_price: Decimal | None = None
) -> OrderInput:
    """An `OrderExecutePayload`, type-checked as Backpack's OpenAPI declares it."""
    if not isinstance(data, dict):
        raise bad_request("Expected an order object")
    _check_fields(data)
    symbol = string_field(data, "symbol", required=True)
    side = string_field(data, "side", required=True, choices=SIDES)
    order_type = string_field(data, "orderType", required=True, choices=ORDER_TYPES)
    assert symbol is not None and side is not None and order_type is not None
    time_in_force = string_field(data, "timeInForce", choices=TIMES_IN_FORCE) or "GTC"
    string_field(data, "selfTradePrevention", choices=SELF_TRADE_PREVENTION)
    quantity = decimal_field(data, "quantity", required=False)
    quote = decimal_field(data, "quoteQuantity", required=False)
    if quantity is not None and quote is not None:
        raise bad_request("Send either quantity or quoteQuantity, not both")
    if quantity is None:
        if quote is None:
            raise bad_request("Missing field quantity")
        if order_type != "Market":
            raise bad_request("quoteQuantity is only accepted on Market orders")
        quantity = _quantity_for_quote(quote, spec, last_price)
    price = decimal_field(data, "price", required=False)
    if price is not None and order_type == "Market":
        raise bad_request("Market orders take no price")
    return OrderInput(
        symbol=symbol,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
        client_id=client_id_field(data.get("clientId")),
        time_in_force=time_in_force,
        post_only=bool_field(data, "postOnly"),
        reduce_only=bool_field(data, "reduceOnly"),
        self_trade_prevention=str(data.get("selfTradePrevention") or "RejectTaker"),
    )


def _quantity_for_quote(
    quote: Decimal, spec: MarketSpec | None, last_price: Decimal | None
) -> Decimal:
    """A quote amount as the base quantity it buys at the last price, rounded down to the step
    so the order never spends (or receives) more than asked."""
    if spec is None or not last_price or quote <= 0:
        raise bad_request("Invalid quoteQuantity")
    steps = (quote / last_price / spec.step_size).to_integral_value(ROUND_DOWN)
    return steps * spec.step_size


def cancel_target(data: Mapping[str, object], *, query: bool) -> tuple[str, str | None, int | None]:
    """(symbol, orderId, clientId) of `DELETE /order` (JSON body) or `GET /order` (query)."""
    symbol = data.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise bad_request("Missing field symbol")
    order_id = data.get("orderId")
    if order_id is not None and not isinstance(order_id, str):
        raise bad_request(f"orderId must be a string, not {_json_type(order_id)}")
    client_id = (
        uint_param(data, "clientId", UINT32_MAX)  # type: ignore[arg-type]
        if query
        else client_id_field(data.get("clientId"))
    )
    if (order_id is None) == (client_id is None):
        raise bad_request("Exactly one of orderId and clientId is required")
    return symbol, order_id, client_id


def int_param(params: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise bad_request(f"Invalid integer {name}: {value!r}") from exc


def uint_param(
    params: Mapping[str, str], name: str, maximum: int, default: int | None = None
) -> int | None:
    value = int_param(params, name, default)
    if value is not None and not 0 <= value <= maximum:
        raise bad_request(f"{name} out of range: {value}")
    return value


def choice_param(
    params: Mapping[str, str], name: str, choices: tuple[str, ...], default: str | None = None
) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise bad_request(f"Invalid {name} {value!r}: one of {', '.join(choices)}")
    return value
