"""The paper exchange's state as plain values: markets, orders, fills, balances, positions.

Pure data and arithmetic (no I/O): the engine mutates these, the store persists them, and the
serializers turn them into Backpack's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

ZERO = Decimal(0)
FEE_QUANTUM = Decimal("0.00000001")

Side = Literal["Bid", "Ask"]


@dataclass(frozen=True, slots=True)
class MarketSpec:
    symbol: str
    base: str
    quote: str
    market_type: Literal["SPOT", "PERP"]
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    max_quantity: Decimal | None
    maker_fee: Decimal  # fraction of notional
    taker_fee: Decimal
    min_multiplier: Decimal  # allowed limit price band around the last price
    max_multiplier: Decimal
    initial_margin: Decimal  # perps: margin fraction required per unit of notional

    @property
    def is_perp(self) -> bool:
        return self.market_type == "PERP"

    def round_price(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).quantize(Decimal(1), ROUND_HALF_UP) * self.tick_size


@dataclass(frozen=True, slots=True)
class FundingRate:
    """One perp's funding rate for one settled interval."""

    symbol: str
    interval_end_ms: int
    rate: Decimal


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """What one account received or paid for one interval of one perp."""

    account: str
    symbol: str
    interval_end_ms: int
    quantity: Decimal  # received (+) or paid (-), in the market's quote asset
    rate: Decimal


@dataclass(slots=True)
class BookOrder:
    id: str
    account: str
    symbol: str
    side: Side
    order_type: Literal["Limit", "Market"]
    price: Decimal | None
    quantity: Decimal
    client_id: int | None = None
    time_in_force: Literal["GTC", "IOC", "FOK"] = "GTC"
    post_only: bool = False
    reduce_only: bool = False
    status: str = "New"
    executed_quantity: Decimal = ZERO
    executed_quote_quantity: Decimal = ZERO
    created_at_ms: int = 0
    updated_at_ms: int = 0
    expiry_reason: str | None = None
    locked: Decimal = ZERO  # of the asset this order holds (quote for spot bids, base for asks)
    self_trade_prevention: str = "RejectTaker"
    system_order_type: str | None = None  # set on orders the exchange places (liquidations)

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.executed_quantity

    @property
    def is_open(self) -> bool:
        return self.status in ("New", "PartiallyFilled")


@dataclass(frozen=True, slots=True)
class BookFill:
    trade_id: int
    order_id: str
    account: str
    client_id: int | None
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_symbol: str
    is_maker: bool
    timestamp_ms: int
    system_order_type: str | None = None  # that of the order (e.g. LiquidatePositionOnBook)


@dataclass(slots=True)
class BalanceState:
    available: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass(slots=True)
class PositionState:
    """A one-way perp position: signed net quantity, average entry, cumulative realized PnL."""

    net_quantity: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    cumulative_funding: Decimal = ZERO  # received (+) or paid (-); kept by paper/perp.py

    def apply_fill(self, side: Side, quantity: Decimal, price: Decimal) -> Decimal:
        """Net a fill into the position; return the PnL it realized."""
        signed = quantity if side == "Bid" else -quantity
        net = self.net_quantity
        if net == ZERO or (net > ZERO) == (signed > ZERO):
            total = abs(net) + quantity
            self.entry_price = (abs(net) * self.entry_price + quantity * price) / total
            self.net_quantity = net + signed
            return ZERO
        closing = min(quantity, abs(net))
        direction = Decimal(1) if net > ZERO else Decimal(-1)
        realized = closing * (price - self.entry_price) * direction
        self.realized_pnl += realized
        self.net_quantity = net + signed
        if self.net_quantity == ZERO:
            self.entry_price = ZERO
        elif (self.net_quantity > ZERO) != (net > ZERO):
            self.entry_price = price  # flipped: the remainder opened at this fill's price
        return realized

    def unrealized(self, mark: Decimal) -> Decimal:
        return self.net_quantity * (mark - self.entry_price)


def fee_of(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount * rate).quantize(FEE_QUANTUM, ROUND_HALF_UP)


class EngineReject(Exception):
    """A request the exchange refuses, with Backpack's error code and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class OrderInput:
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None = None
    client_id: int | None = None
    time_in_force: str = "GTC"
    post_only: bool = False
    reduce_only: bool = False
    self_trade_prevention: str = "RejectTaker"
