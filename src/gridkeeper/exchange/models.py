"""What the client returns: frozen values with `Decimal` for every price, quantity and fee.

Each `from_api` reads Backpack's JSON shape (camelCase, decimals as strings); `OrderRequest.to_api`
writes the order body. Fee rates on `Market` are fractions (0.0002 = 2 bps).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast

Side = Literal["Bid", "Ask"]
OrderType = Literal["Limit", "Market"]
MarketType = Literal["SPOT", "PERP"]
TimeInForce = Literal["GTC", "IOC", "FOK"]
OrderStatus = Literal["New", "PartiallyFilled", "Filled", "Cancelled", "Expired"]

UINT32_MAX = 2**32 - 1
ZERO = Decimal(0)


def dec(value: object, default: Decimal | None = None) -> Decimal:
    """A Decimal from Backpack's decimal string (never via float)."""
    if value is None or value == "":
        if default is None:
            raise ValueError("missing decimal value")
        return default
    if isinstance(value, float):
        value = repr(value)
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal: {value!r}") from exc


def opt_dec(value: object) -> Decimal | None:
    return None if value is None or value == "" else dec(value)


def opt_int(value: object) -> int | None:
    if value is None or value == "":
        return None
    return int(str(value))


def timestamp_ms(value: object) -> int:
    """Milliseconds from an int (ms) or a naive UTC ISO datetime, both of which Backpack uses."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", ""))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Market:
    symbol: str
    base_symbol: str
    quote_symbol: str
    market_type: MarketType
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    maker_fee: Decimal
    taker_fee: Decimal
    # Backpack's limit price band (filters.price.minMultiplier / maxMultiplier): a limit price
    # must lie within [last * min_multiplier, last * max_multiplier] or it is refused
    # (INVALID_PRICE, PriceOutOfBounds). None: the market publishes no band.
    min_multiplier: Decimal | None = None
    max_multiplier: Decimal | None = None

    def band(self, last: Decimal) -> tuple[Decimal | None, Decimal | None]:
        """The lowest and highest limit price the exchange accepts at last price `last`."""
        low = None if self.min_multiplier is None else last * self.min_multiplier
        high = None if self.max_multiplier is None else last * self.max_multiplier
        return low, high

    @classmethod
    def from_api(cls, data: dict[str, Any], *, maker_fee: Decimal, taker_fee: Decimal) -> Market:
        filters = data["filters"]
        price_filter = filters["price"]
        return cls(
            symbol=data["symbol"],
            base_symbol=data["baseSymbol"],
            quote_symbol=data["quoteSymbol"],
            market_type="PERP" if data["marketType"] == "PERP" else "SPOT",
            tick_size=dec(price_filter["tickSize"]),
            step_size=dec(filters["quantity"]["stepSize"]),
            min_quantity=dec(filters["quantity"]["minQuantity"]),
            maker_fee=maker_fee,
            taker_fee=taker_fee,
            min_multiplier=opt_dec(price_filter.get("minMultiplier")),
            max_multiplier=opt_dec(price_filter.get("maxMultiplier")),
        )


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """One funding payment of a perp position (`GET /wapi/v1/history/funding`).

    `quantity` is in the quote asset: positive received, negative paid. Backpack pays funding
    once per interval per symbol, so (symbol, interval_end_ms) identifies a payment.
    """

    symbol: str
    quantity: Decimal
    interval_end_ms: int
    funding_rate: Decimal

    @property
    def key(self) -> str:
        return f"{self.symbol}:{self.interval_end_ms}"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> FundingPayment:
        return cls(
            symbol=str(data["symbol"]),
            quantity=dec(data["quantity"]),
            interval_end_ms=timestamp_ms(data["intervalEndTimestamp"]),
            funding_rate=dec(data.get("fundingRate"), ZERO),
        )


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    last_price: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None
    timestamp_ms: int = 0


@dataclass(frozen=True, slots=True)
class Balance:
    symbol: str
    available: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.available + self.locked


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    net_quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Position:
        return cls(
            symbol=data["symbol"],
            net_quantity=dec(data["netQuantity"]),
            entry_price=dec(data.get("entryPrice"), ZERO),
            mark_price=dec(data.get("markPrice"), ZERO),
            realized_pnl=dec(data.get("pnlRealized"), ZERO),
            unrealized_pnl=dec(data.get("pnlUnrealized"), ZERO),
        )


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    client_id: int | None = None
    post_only: bool = False
    reduce_only: bool = False
    time_in_force: TimeInForce = "GTC"

    def __post_init__(self) -> None:
        if self.client_id is not None and not 0 <= self.client_id <= UINT32_MAX:
            raise ValueError(f"client_id {self.client_id} is not a uint32")
        if self.order_type == "Limit" and self.price is None:
            raise ValueError("a Limit order needs a price")
        for name in ("quantity", "price"):
            if isinstance(getattr(self, name), float):
                raise TypeError(f"{name} must be a Decimal, not a float")

    def to_api(self) -> dict[str, object]:
        """The JSON body of `POST /api/v1/order`; absent fields are not sent (nor signed)."""
        body: dict[str, object] = {
            "symbol": self.symbol,
            "side": self.side,
            "orderType": self.order_type,
            "quantity": format(self.quantity, "f"),
        }
        if self.price is not None and self.order_type == "Limit":
            body["price"] = format(self.price, "f")
        if self.client_id is not None:
            body["clientId"] = self.client_id
        if self.post_only:
            body["postOnly"] = True
        if self.reduce_only:
            body["reduceOnly"] = True
        if self.time_in_force != "GTC":
            body["timeInForce"] = self.time_in_force
        return body


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    client_id: int | None
    symbol: str
    side: Side
    order_type: OrderType
    price: Decimal | None
    quantity: Decimal
    executed_quantity: Decimal
    executed_quote_quantity: Decimal
    status: OrderStatus
    reduce_only: bool
    post_only: bool
    created_at_ms: int
    expiry_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in ("New", "PartiallyFilled")

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Order:
        return cls(
            id=str(data["id"]),
            client_id=opt_int(data.get("clientId")),
            symbol=data["symbol"],
            side=cast(Side, data["side"]),
            order_type=cast(OrderType, data["orderType"]),
            price=opt_dec(data.get("price")),
            quantity=dec(data.get("quantity"), ZERO),
            executed_quantity=dec(data.get("executedQuantity"), ZERO),
            executed_quote_quantity=dec(data.get("executedQuoteQuantity"), ZERO),
            status=cast(OrderStatus, data["status"]),
            reduce_only=bool(data.get("reduceOnly", False)),
            post_only=bool(data.get("postOnly", False)),
            created_at_ms=timestamp_ms(data.get("createdAt", 0)),
            expiry_reason=data.get("expiryReason"),
        )


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: str
    order_id: str
    client_id: int | None
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_symbol: str
    is_maker: bool
    timestamp_ms: int

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Fill:
        trade_id = data.get("tradeId")
        if trade_id is None or trade_id == "":
            # `tradeId` is optional in Backpack's schema; fills are deduplicated by it, so a
            # missing one becomes a key that is stable for the same fill and differs between
            # fills: order, time, price and quantity.
            trade_id = f"{data['orderId']}:{data['timestamp']}:{data['price']}:{data['quantity']}"
        return cls(
            trade_id=str(trade_id),
            order_id=str(data["orderId"]),
            client_id=opt_int(data.get("clientId")),
            symbol=data["symbol"],
            side=cast(Side, data["side"]),
            price=dec(data["price"]),
            quantity=dec(data["quantity"]),
            fee=dec(data.get("fee"), ZERO),
            fee_symbol=str(data.get("feeSymbol", "")),
            is_maker=bool(data.get("isMaker", False)),
            timestamp_ms=timestamp_ms(data["timestamp"]),
        )


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """One `account.orderUpdate` message (Backpack's one-letter fields, named)."""

    event: str
    order_id: str
    client_id: int | None
    symbol: str
    side: Side
    status: str
    order_type: str
    price: Decimal | None
    quantity: Decimal | None
    executed_quantity: Decimal
    last_fill_quantity: Decimal | None
    last_fill_price: Decimal | None
    fee: Decimal | None
    fee_symbol: str | None
    trade_id: str | None
    is_maker: bool | None
    reduce_only: bool
    timestamp_us: int

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> OrderUpdate:
        trade = data.get("t")
        return cls(
            event=str(data["e"]),
            order_id=str(data["i"]),
            client_id=opt_int(data.get("c")),
            symbol=str(data["s"]),
            side=cast(Side, data.get("S", "Bid")),
            status=str(data.get("X", "")),
            order_type=str(data.get("o", "")),
            price=opt_dec(data.get("p")),
            quantity=opt_dec(data.get("q")),
            executed_quantity=dec(data.get("z"), ZERO),
            last_fill_quantity=opt_dec(data.get("l")),
            last_fill_price=opt_dec(data.get("L")),
            fee=opt_dec(data.get("n")),
            fee_symbol=data.get("N"),
            trade_id=None if trade is None else str(trade),
            is_maker=data.get("m"),
            reduce_only=bool(data.get("r", False)),
            timestamp_us=int(data.get("T") or data.get("E") or 0),
        )
