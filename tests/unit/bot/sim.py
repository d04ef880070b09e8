"""A tiny matching simulator driving GridStrategy without I/O (test double, not production)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal as D
from typing import Any

from gridkeeper.bot.state import TrackedOrder
from gridkeeper.bot.strategy import Cancel, GridStrategy, MarketSpec, Place
from gridkeeper.config.strategy import GridStrategyConfig
from gridkeeper.exchange.models import Fill, Order

SPOT = MarketSpec("SOL_USDC", "SOL", "USDC", True, D("0.01"), D("0.01"), D("0.01"), D("0.0002"))
PERP = MarketSpec(
    "SOL_USDC_PERP", "SOL", "USDC", False, D("0.01"), D("0.01"), D("0.01"), D("0.0002")
)


def config(**over: Any) -> GridStrategyConfig:
    data: dict[str, Any] = {
        "grid_lower_price": D(90),
        "grid_upper_price": D(110),
        "grid_num": 11,
        "order_quantity": D(1),
    }
    data.update(over)
    return GridStrategyConfig(**data)


@dataclass
class Sim:
    """Open orders rest; a price move fills every order it crosses at the order's price."""

    strategy: GridStrategy
    fee_rate: D = D("0.0002")
    open: dict[int, TrackedOrder] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    sent: list[int] = field(default_factory=list)
    trades: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    now: int = 1_000
    fills: list[Fill] = field(default_factory=list)
    down: bool = False  # while down, fills are recorded but not delivered
    delivered: set[str] = field(default_factory=set)  # trade ids the strategy has applied
    base_fee_on_buys: bool = False  # spot as on Backpack: a buy's fee is paid in base

    def run(self, actions: list[Place | Cancel]) -> None:
        for action in actions:
            if isinstance(action, Place):
                order = action.order
                assert order.client_id not in self.open, "duplicate clientId live"
                self.sent.append(order.client_id)
                oid = str(next(self.ids))
                order_copy = TrackedOrder(**{**order.__dict__, "order_id": oid, "status": "live"})
                if order.price is None:  # market close: fills at once
                    self.open[order.client_id] = order_copy
                    self.strategy.on_placed(order.client_id, oid, "New", D(0))
                    self._fill(order_copy, self.strategy.state.last_price or D(100))
                    continue
                self.open[order.client_id] = order_copy
                self.strategy.on_placed(order.client_id, oid, "New", D(0))
            else:
                gone = self.open.pop(action.client_id, None)
                self.strategy.on_gone(action.client_id, gone.filled if gone else D(0))

    def _fill(self, order: TrackedOrder, price: D) -> None:
        qty = order.quantity - order.filled
        self.now += 1
        in_base = self.base_fee_on_buys and order.side == "Bid"
        fee = qty * self.fee_rate if in_base else (price * qty * self.fee_rate)
        fill = Fill(
            trade_id=f"t{next(self.trades)}",
            order_id=order.order_id or "",
            client_id=order.client_id,
            symbol=self.strategy.market.symbol,
            side=order.side,
            price=price,
            quantity=qty,
            fee=fee.quantize(D("0.00000001")),
            fee_symbol=self.strategy.market.base if in_base else "USDC",
            is_maker=True,
            timestamp_ms=self.now,
        )
        order.filled += qty
        self.open.pop(order.client_id, None)
        self.fills.append(fill)
        if not self.down:
            self.delivered.add(fill.trade_id)
            self.strategy.on_fill(fill)

    def move(self, price: D) -> None:
        """Move the market to `price`, filling crossed orders, then let the strategy react."""
        for order in sorted(self.open.values(), key=lambda o: o.price or D(0)):
            if order.price is None:
                continue
            if (order.side == "Bid" and price <= order.price) or (
                order.side == "Ask" and price >= order.price
            ):
                self._fill(order, order.price)
        if self.down:
            return
        self.run(self.strategy.on_price(price, self.now))

    def exchange_orders(self) -> list[Order]:
        return [
            Order(
                id=o.order_id or "",
                client_id=o.client_id,
                symbol=self.strategy.market.symbol,
                side=o.side,
                order_type="Limit",
                price=o.price,
                quantity=o.quantity,
                executed_quantity=o.filled,
                executed_quote_quantity=D(0),
                status="New",
                reduce_only=o.reduce_only,
                post_only=True,
                created_at_ms=0,
            )
            for o in self.open.values()
        ]
