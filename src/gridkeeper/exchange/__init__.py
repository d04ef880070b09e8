"""Backpack exchange access: the REST client, the order-update stream, signing and errors.

`gridkeeper.exchange.paper` is the Backpack-compatible paper exchange (a server); bots only use
the names exported here.
"""

from __future__ import annotations

from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.errors import (
    AuthError,
    ExchangeError,
    RejectedError,
    RetryableError,
    UnknownOutcomeError,
)
from gridkeeper.exchange.models import (
    Balance,
    Fill,
    FundingPayment,
    Market,
    Order,
    OrderRequest,
    OrderUpdate,
    Position,
    Ticker,
)
from gridkeeper.exchange.stream import OrderUpdateStream

__all__ = [
    "AuthError",
    "BackpackClient",
    "Balance",
    "ExchangeError",
    "Fill",
    "FundingPayment",
    "Market",
    "Order",
    "OrderRequest",
    "OrderUpdate",
    "OrderUpdateStream",
    "Position",
    "RejectedError",
    "RetryableError",
    "Ticker",
    "UnknownOutcomeError",
]
