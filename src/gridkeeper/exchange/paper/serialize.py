"""The paper exchange's state in Backpack's JSON shapes (camelCase, decimals as strings)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from gridkeeper.exchange.paper.book import ZERO, BookFill, BookOrder, MarketSpec, PositionState

BPS = Decimal(10000)
# The order-update stream's `O` (origin) of orders the exchange places, by systemOrderType.
ORIGINS = {"LiquidatePositionOnBook": "LIQUIDATION_AUTOCLOSE"}
# Money that is computed rather than entered (fees, PnL, equity, notionals): 8 decimals, like
# the fee quantum the engine charges with.
MONEY_QUANTUM = Decimal("0.00000001")
RATIO_QUANTUM = Decimal("0.000001")


def d(value: Decimal) -> str:
    """A decimal string without exponent or trailing zeros: `150.5`, never `1.505E+2`."""
    return format(value.normalize(), "f") if value != ZERO else "0"


def _quantum(step: Decimal) -> Decimal:
    """The decimal unit of a tick or step size: 0.05 -> 0.01, 1 -> 1, 10 -> 1."""
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return Decimal(1).scaleb(min(exponent, 0))


def fixed(value: Decimal, quantum: Decimal) -> str:
    """`value` rounded half-up to `quantum`, without exponent or trailing zeros."""
    return d(value.quantize(quantum, ROUND_HALF_UP))


def px(spec: MarketSpec, value: Decimal) -> str:
    """A derived price (average entry, mark) at the market's tick decimals, never 28 digits."""
    return fixed(value, _quantum(spec.tick_size))


def qty(spec: MarketSpec, value: Decimal) -> str:
    """A quantity at the market's step decimals."""
    return fixed(value, _quantum(spec.step_size))


def money(value: Decimal) -> str:
    """Fees, PnL, balances, notionals and equity: 8 decimals."""
    return fixed(value, MONEY_QUANTUM)


def ratio(value: Decimal) -> str:
    """Fractions such as margin fraction or a price change percentage: 6 decimals."""
    return fixed(value, RATIO_QUANTUM)


def naive_utc(ms: int) -> str:
    """Backpack's naive-date-time: ISO 8601 in UTC without an offset."""
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .replace(tzinfo=None)
        .isoformat(timespec="milliseconds")
    )


def market_json(spec: MarketSpec) -> dict[str, Any]:
    price_filter: dict[str, Any] = {
        "minPrice": d(spec.tick_size),
        "tickSize": d(spec.tick_size),
        "maxMultiplier": d(spec.max_multiplier),
        "minMultiplier": d(spec.min_multiplier),
    }
    quantity_filter: dict[str, Any] = {
        "minQuantity": d(spec.min_quantity),
        "stepSize": d(spec.step_size),
    }
    if spec.max_quantity is not None:
        quantity_filter["maxQuantity"] = d(spec.max_quantity)
    out: dict[str, Any] = {
        "symbol": spec.symbol,
        "baseSymbol": spec.base,
        "quoteSymbol": spec.quote,
        "marketType": spec.market_type,
        "filters": {"price": price_filter, "quantity": quantity_filter},
        "orderBookState": "Open",
        "createdAt": "2024-01-01T00:00:00",
        "visible": True,
    }
    if spec.is_perp:
        imf = spec.initial_margin
        out["fundingInterval"] = 28800000
        out["imfFunction"] = {"type": "sqrt", "base": d(imf), "factor": "0"}
        out["mmfFunction"] = {"type": "sqrt", "base": d(imf / 2), "factor": "0"}
    return out


def order_json(order: BookOrder, *, history: bool = False) -> dict[str, Any]:
    """An open-order (`OrderType`) object; `history` gives the `/history/orders` variant."""
    out: dict[str, Any] = {
        "orderType": order.order_type,
        "id": order.id,
        "createdAt": naive_utc(order.created_at_ms) if history else order.created_at_ms,
        "executedQuantity": d(order.executed_quantity),
        "executedQuoteQuantity": d(order.executed_quote_quantity),
        "quantity": d(order.quantity),
        "reduceOnly": order.reduce_only,
        "selfTradePrevention": order.self_trade_prevention,
        "side": order.side,
        "status": order.status,
        "symbol": order.symbol,
        "timeInForce": order.time_in_force,
    }
    if order.order_type == "Limit":
        out["postOnly"] = order.post_only
        if order.price is not None:
            out["price"] = d(order.price)
    if order.client_id is not None:
        out["clientId"] = order.client_id
    if order.system_order_type is not None:
        out["systemOrderType"] = order.system_order_type
    if history and order.expiry_reason:
        out["expiryReason"] = order.expiry_reason
    return out


def fill_json(fill: BookFill) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tradeId": fill.trade_id,
        "orderId": fill.order_id,
        "symbol": fill.symbol,
        "side": fill.side,
        "price": d(fill.price),
        "quantity": d(fill.quantity),
        "fee": d(fill.fee),
        "feeSymbol": fill.fee_symbol,
        "isMaker": fill.is_maker,
        "timestamp": naive_utc(fill.timestamp_ms),
    }
    if fill.client_id is not None:
        out["clientId"] = str(fill.client_id)
    if fill.system_order_type is not None:
        out["systemOrderType"] = fill.system_order_type
    return out


def position_json(
    spec: MarketSpec, pos: PositionState, mark: Decimal, position_id: int
) -> dict[str, Any]:
    """A `FuturePositionWithMargin`; averages and PnL rounded to the market's precision."""
    notional = pos.net_quantity * mark
    imf = spec.initial_margin
    return {
        "breakEvenPrice": px(spec, pos.entry_price),
        "entryPrice": px(spec, pos.entry_price),
        "estLiquidationPrice": "0",
        "imf": d(imf),
        "imfFunction": {"type": "sqrt", "base": d(imf), "factor": "0"},
        "markPrice": px(spec, mark),
        "mmf": d(imf / 2),
        "mmfFunction": {"type": "sqrt", "base": d(imf / 2), "factor": "0"},
        "netCost": money(pos.net_quantity * pos.entry_price),
        "netQuantity": qty(spec, pos.net_quantity),
        "netExposureQuantity": qty(spec, abs(pos.net_quantity)),
        "netExposureNotional": money(abs(notional)),
        "pnlRealized": money(pos.realized_pnl),
        "pnlUnrealized": money(pos.unrealized(mark)),
        "cumulativeFundingPayment": money(pos.cumulative_funding),
        "symbol": spec.symbol,
        "userId": 1,
        "positionId": str(position_id),
        "cumulativeInterest": "0",
    }


def position_update_json(
    spec: MarketSpec, pos: PositionState, mark: Decimal, position_id: int, event: str, ts_us: int
) -> dict[str, Any]:
    """One `account.positionUpdate` payload (one-letter fields, as ccxt pro parses them)."""
    return {
        "e": event,
        "E": ts_us,
        "T": ts_us,
        "s": spec.symbol,
        "i": position_id,
        "q": qty(spec, pos.net_quantity),
        "Q": qty(spec, abs(pos.net_quantity)),
        "b": px(spec, pos.entry_price),
        "B": px(spec, pos.entry_price),
        "M": px(spec, mark),
        "P": money(pos.unrealized(mark)),
        "p": money(pos.realized_pnl),
        "n": money(abs(pos.net_quantity * mark)),
        "l": "0",
        "f": d(spec.initial_margin),
        "m": d(spec.initial_margin / 2),
    }


def order_update_json(kind: str, order: BookOrder, fill: BookFill | None) -> dict[str, Any]:
    """One `account.orderUpdate` payload with Backpack's one-letter field names."""
    ts_us = (fill.timestamp_ms if fill else order.updated_at_ms) * 1000
    data: dict[str, Any] = {
        "e": kind,
        "E": ts_us,
        "s": order.symbol,
        "S": order.side,
        "o": order.order_type,
        "f": order.time_in_force,
        "q": d(order.quantity),
        "X": order.status,
        "i": order.id,
        "z": d(order.executed_quantity),
        "Z": d(order.executed_quote_quantity),
        "V": order.self_trade_prevention,
        "T": ts_us,
        "O": ORIGINS.get(order.system_order_type or "", "USER"),
        "r": order.reduce_only,
    }
    if order.price is not None:
        data["p"] = d(order.price)
    if order.client_id is not None:
        data["c"] = order.client_id
    if order.expiry_reason:
        data["R"] = order.expiry_reason  # Backpack's order expiry reason field
    if fill is not None:
        data.update(
            {
                "l": d(fill.quantity),
                "L": d(fill.price),
                "m": fill.is_maker,
                "n": d(fill.fee),
                "N": fill.fee_symbol,
                "t": fill.trade_id,
            }
        )
    return data
