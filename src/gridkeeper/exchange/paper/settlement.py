"""What an order's life does to the money: reserve at placement, move balances and positions
at each fill, release what is left at a cancel or expiry.

The base of the matching engine (`Settlement` -> `RestingFills` in paper/resting.py -> `Engine`
in paper/engine.py): every path that changes a balance or a position goes through these few
methods, so the accounting rules (spot locks, perp margin, fees, reduce-only fitting) are read
and checked in one place.
"""

from __future__ import annotations

from decimal import Decimal

from gridkeeper.exchange.paper.book import (
    ZERO,
    BookFill,
    BookOrder,
    EngineReject,
    MarketSpec,
    PositionState,
    fee_of,
)
from gridkeeper.exchange.paper.liquidity import Level
from gridkeeper.exchange.paper.state import EngineState


class Settlement(EngineState):
    """Reserve, fill, release: the engine's money moves."""

    def _reserve(
        self, spec: MarketSpec, order: BookOrder, plan: list[Level], last: Decimal
    ) -> None:
        """Lock what the order may spend (spot), or check margin (perp)."""
        planned = sum((q for _, q in plan), ZERO)
        plan_notional = sum((p * q for p, q in plan), ZERO)
        if spec.is_perp:
            if order.reduce_only:
                return
            rest_price = order.price if order.price is not None else (plan[-1][0] if plan else last)
            notional = plan_notional + (order.quantity - planned) * rest_price
            required = notional * spec.initial_margin
            if required + self._margin_in_use(order.account) > self.equity(order.account):
                raise EngineReject("INSUFFICIENT_MARGIN", "Insufficient margin")
            return
        if order.side == "Bid":
            asset = spec.quote
            # A limit bid holds its price; a market bid exactly what its fills will cost.
            amount = order.quantity * order.price if order.price is not None else plan_notional
        else:
            asset, amount = spec.base, order.quantity
        bal = self.balance(order.account, asset)
        if bal.available < amount:
            raise EngineReject("INSUFFICIENT_FUNDS", "Insufficient funds")
        bal.available -= amount
        bal.locked += amount
        order.locked = amount
        self._changes.balances.add((order.account, asset))

    def _fill(
        self,
        spec: MarketSpec,
        order: BookOrder,
        price: Decimal,
        quantity: Decimal,
        *,
        is_maker: bool,
        now_ms: int,
    ) -> None:
        rate = spec.maker_fee if is_maker else spec.taker_fee
        notional = price * quantity
        account = order.account
        if spec.is_perp:
            fee, fee_symbol = fee_of(notional, rate), spec.quote
            pos = self.positions.setdefault((account, spec.symbol), PositionState())
            realized = pos.apply_fill(order.side, quantity, price)
            self.balance(account, spec.quote).available += realized - fee
            self._changes.positions.add((account, spec.symbol))
            self._changes.balances.add((account, spec.quote))
        elif order.side == "Bid":
            fee, fee_symbol = fee_of(quantity, rate), spec.base
            quote = self.balance(account, spec.quote)
            # A market bid locked the exact cost of its fills; a limit bid its own price.
            held = notional if order.price is None else order.locked * quantity / order.remaining
            quote.locked -= held
            quote.available += held - notional  # a taker fill below the limit refunds the rest
            order.locked -= held
            self.balance(account, spec.base).available += quantity - fee
            self._changes.balances.update({(account, spec.quote), (account, spec.base)})
        else:
            fee, fee_symbol = fee_of(notional, rate), spec.quote
            base = self.balance(account, spec.base)
            base.locked -= quantity
            order.locked -= quantity
            self.balance(account, spec.quote).available += notional - fee
            self._changes.balances.update({(account, spec.quote), (account, spec.base)})
        order.executed_quantity += quantity
        order.executed_quote_quantity += notional
        order.status = "Filled" if order.remaining == ZERO else "PartiallyFilled"
        order.updated_at_ms = now_ms
        fill = BookFill(
            trade_id=self.next_trade_id,
            order_id=order.id,
            account=account,
            client_id=order.client_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            quantity=quantity,
            fee=fee,
            fee_symbol=fee_symbol,
            is_maker=is_maker,
            timestamp_ms=now_ms,
            system_order_type=order.system_order_type,
        )
        self.next_trade_id += 1
        self._changes.fills.append(fill)
        self._event("orderFill", order, now_ms, fill)
        if order.status == "Filled":
            self.orders.pop(order.id, None)
            self._drop_pending_cancel(order.id)  # nothing left to cancel
        if spec.is_perp and self.reduce_only_modify:
            self._fit_reduce_only(spec, account, order.id, now_ms)

    def _fit_reduce_only(self, spec: MarketSpec, account: str, skip: str, now_ms: int) -> None:
        """Shrink resting reduce-only orders to the position left (orderModified) or expire."""
        pos = self.positions.get((account, spec.symbol))
        net = pos.net_quantity if pos else ZERO
        for other in list(self.orders.values()):
            if other.id == skip or not other.reduce_only or other.account != account:
                continue
            if other.symbol != spec.symbol:
                continue
            reducible = net if other.side == "Ask" else -net
            if reducible <= ZERO:
                self._close(other, "Expired", now_ms, "ReduceOnlyNotReduced")
            elif other.remaining > reducible:
                other.quantity = other.executed_quantity + reducible
                other.updated_at_ms = now_ms
                self._event("orderModified", other, now_ms)
                self._touch(other)

    def _drop_pending_cancel(self, order_id: str) -> None:
        if self.pending_cancels.pop(order_id, None) is not None:
            self._changes.pending_cancels[order_id] = None  # and its row in the store

    def _close(self, order: BookOrder, status: str, now_ms: int, reason: str | None) -> None:
        """Cancel or expire the rest of an order and release what it still holds."""
        if order.locked > ZERO:
            spec = self.markets[order.symbol]
            asset = spec.quote if order.side == "Bid" else spec.base
            bal = self.balance(order.account, asset)
            bal.locked -= order.locked
            bal.available += order.locked
            order.locked = ZERO
            self._changes.balances.add((order.account, asset))
        order.status = status
        order.expiry_reason = reason
        order.updated_at_ms = now_ms
        self.orders.pop(order.id, None)
        self._drop_pending_cancel(order.id)
        self._event("orderCancelled" if status == "Cancelled" else "orderExpired", order, now_ms)
        self._touch(order)
