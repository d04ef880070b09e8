"""The paper exchange's matching engine: pure, synchronous, clock passed in.

Liquidity model: the price source is the market. A marketable order fills in full at the current
price (a market order with slippage added); a resting limit order fills in full, as maker at its
own price, once the price trades *through* it (a bid when the price drops below it, an ask when
it rises above it). Every mutation is recorded so the store can persist exactly what changed
(`drain`) and the websocket can publish Backpack-shaped order updates.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace
from decimal import Decimal

from gridkeeper.exchange.paper.book import (
    ZERO,
    BalanceState,
    BookFill,
    BookOrder,
    EngineReject,
    MarketSpec,
    OrderInput,
    PositionState,
    fee_of,
)
from gridkeeper.exchange.paper.rules import validate

__all__ = ["Changes", "Engine", "EngineReject", "OrderInput"]


@dataclass
class Changes:
    """What one or more operations changed, for the store and the websocket."""

    orders: dict[str, BookOrder] = field(default_factory=dict)
    fills: list[BookFill] = field(default_factory=list)
    balances: set[tuple[str, str]] = field(default_factory=set)
    positions: set[tuple[str, str]] = field(default_factory=set)
    prices: set[str] = field(default_factory=set)
    events: list[tuple[str, BookOrder, str, BookFill | None]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.orders or self.fills or self.balances or self.positions or self.prices)


class Engine:
    def __init__(self, markets: list[MarketSpec], *, market_slippage: Decimal = ZERO) -> None:
        self.markets = {m.symbol: m for m in markets}
        self.market_slippage = market_slippage
        self.prices: dict[str, Decimal] = {}
        self.marks: dict[str, Decimal] = {}  # perps' mark prices, kept by paper/perp.py
        self.balances: dict[tuple[str, str], BalanceState] = {}
        self.positions: dict[tuple[str, str], PositionState] = {}
        self.orders: dict[str, BookOrder] = {}  # open orders only; closed ones live in the store
        self.next_order_id = 1
        self.next_trade_id = 1
        # Lazy-deletion heaps: a bid heap keyed by -price, an ask heap by price, FIFO within one.
        self._bids: dict[str, list[tuple[Decimal, int, str]]] = {m: [] for m in self.markets}
        self._asks: dict[str, list[tuple[Decimal, int, str]]] = {m: [] for m in self.markets}
        self._changes = Changes()

    # -- state loading -------------------------------------------------------------------

    def restore_order(self, order: BookOrder) -> None:
        if order.is_open:
            self.orders[order.id] = order
            self._rest(order)

    def ensure_account(self, account: str, balances: dict[str, Decimal]) -> None:
        """Create an account's starting balances unless it already has any."""
        if any(key[0] == account for key in self.balances):
            return
        for asset, amount in balances.items():
            self.balances[(account, asset)] = BalanceState(available=amount)
            self._changes.balances.add((account, asset))

    def drain(self) -> Changes:
        changes, self._changes = self._changes, Changes()
        return changes

    # -- queries -------------------------------------------------------------------------

    def market(self, symbol: str) -> MarketSpec:
        spec = self.markets.get(symbol)
        if spec is None:
            raise EngineReject("INVALID_SYMBOL", f"Market {symbol} not found")
        return spec

    def price(self, symbol: str) -> Decimal:
        price = self.prices.get(symbol)
        if price is None:
            raise EngineReject("INVALID_MARKET", f"No price for {symbol} yet", 503)
        return price

    def mark_price(self, symbol: str, default: Decimal | None = None) -> Decimal:
        """The price positions are valued at: a perp's mark, else (and until set) the last."""
        mark = self.marks.get(symbol)
        if mark is not None:
            return mark
        if default is not None and symbol not in self.prices:
            return default
        return self.price(symbol)

    def credit(self, account: str, asset: str, amount: Decimal) -> None:
        """Add (or, negative, take) an amount outside any order: funding payments."""
        self.balance(account, asset).available += amount
        self._changes.balances.add((account, asset))

    def balance(self, account: str, asset: str) -> BalanceState:
        state = self.balances.get((account, asset))
        if state is None:
            state = self.balances[(account, asset)] = BalanceState()
        return state

    def open_orders(self, account: str, symbol: str | None = None) -> list[BookOrder]:
        found = [
            o
            for o in self.orders.values()
            if o.account == account and (symbol is None or o.symbol == symbol)
        ]
        return sorted(found, key=lambda o: int(o.id))

    def find_open(
        self, account: str, symbol: str, order_id: str | None, client_id: int | None
    ) -> BookOrder | None:
        if order_id is not None:
            order = self.orders.get(order_id)
            return order if order and order.account == account and order.symbol == symbol else None
        for order in self.open_orders(account, symbol):
            if order.client_id == client_id:
                return order
        return None

    def account_positions(self, account: str) -> list[tuple[str, PositionState]]:
        return [
            (symbol, pos)
            for (acct, symbol), pos in sorted(self.positions.items())
            if acct == account and pos.net_quantity != ZERO
        ]

    def equity(self, account: str) -> Decimal:
        """Collateral value: every asset at its mark price plus unrealized perp PnL."""
        total = ZERO
        for (acct, asset), bal in self.balances.items():
            if acct == account:
                total += (bal.available + bal.locked) * self.asset_price(asset)
        for symbol, pos in self.account_positions(account):
            total += pos.unrealized(self.mark_price(symbol, pos.entry_price))
        return total

    def asset_price(self, asset: str) -> Decimal:
        """USD value of one unit: the quote asset is 1, a base asset takes its spot price."""
        for spec in self.markets.values():
            if spec.base == asset and not spec.is_perp and spec.symbol in self.prices:
                return self.prices[spec.symbol]
        for spec in self.markets.values():
            if spec.base == asset and spec.symbol in self.prices:
                return self.prices[spec.symbol]
        return Decimal(1)

    # -- orders --------------------------------------------------------------------------

    def place(
        self,
        account: str,
        req: OrderInput,
        now_ms: int,
        *,
        system_order_type: str | None = None,
    ) -> BookOrder:
        spec = self.market(req.symbol)
        last = self.price(req.symbol)
        validate(spec, req, last)
        if req.reduce_only:
            self._check_reduces(account, spec, req)
        marketable = req.order_type == "Market" or (
            req.price is not None
            and (req.price >= last if req.side == "Bid" else req.price <= last)
        )
        if req.post_only and marketable:
            raise EngineReject(
                "INVALID_ORDER", "Order would immediately match and take (PostOnlyTaker)"
            )
        exec_price = last
        if req.order_type == "Market":
            slip = self.market_slippage if req.side == "Bid" else -self.market_slippage
            exec_price = spec.round_price(last * (1 + slip))
        order = BookOrder(
            id=str(self.next_order_id),
            account=account,
            symbol=req.symbol,
            side="Bid" if req.side == "Bid" else "Ask",
            order_type="Market" if req.order_type == "Market" else "Limit",
            price=req.price if req.order_type == "Limit" else None,
            quantity=req.quantity,
            client_id=req.client_id,
            time_in_force="IOC"
            if req.time_in_force == "IOC"
            else ("FOK" if req.time_in_force == "FOK" else "GTC"),
            post_only=req.post_only,
            reduce_only=req.reduce_only,
            created_at_ms=now_ms,
            updated_at_ms=now_ms,
            system_order_type=system_order_type,
        )
        self._reserve(spec, order, exec_price if marketable else None)
        self.next_order_id += 1
        self._event("orderAccepted", order, now_ms)
        if marketable:
            self._fill(spec, order, exec_price, order.remaining, is_maker=False, now_ms=now_ms)
        elif order.time_in_force != "GTC":
            reason = "ImmediateOrCancel" if order.time_in_force == "IOC" else "FillOrKill"
            self._close(order, "Expired", now_ms, reason)
        else:
            self.orders[order.id] = order
            self._rest(order)
        self._touch(order)
        return order

    def cancel(
        self, account: str, symbol: str, order_id: str | None, client_id: int | None, now_ms: int
    ) -> BookOrder:
        self.market(symbol)
        order = self.find_open(account, symbol, order_id, client_id)
        if order is None:
            raise EngineReject("RESOURCE_NOT_FOUND", "Order not found", 404)
        self._close(order, "Cancelled", now_ms, None)
        return order

    def cancel_all(self, account: str, symbol: str, now_ms: int) -> list[BookOrder]:
        self.market(symbol)
        cancelled = []
        for order in self.open_orders(account, symbol):
            self._close(order, "Cancelled", now_ms, None)
            cancelled.append(order)
        return cancelled

    # -- prices --------------------------------------------------------------------------

    def set_price(self, symbol: str, price: Decimal, now_ms: int) -> int:
        """Move the market; fill every resting order the move trades through. Returns fills."""
        spec = self.market(symbol)
        self.prices[symbol] = price
        self._changes.prices.add(symbol)
        fills = 0
        bids, asks = self._bids[symbol], self._asks[symbol]
        while bids and -bids[0][0] > price:
            _, _, order_id = heapq.heappop(bids)
            fills += self._fill_resting(spec, order_id, now_ms)
        while asks and asks[0][0] < price:
            _, _, order_id = heapq.heappop(asks)
            fills += self._fill_resting(spec, order_id, now_ms)
        return fills

    # -- internals -----------------------------------------------------------------------

    def _check_reduces(self, account: str, spec: MarketSpec, req: OrderInput) -> None:
        pos = self.positions.get((account, spec.symbol))
        net = pos.net_quantity if pos else ZERO
        reduces = (net > ZERO and req.side == "Ask") or (net < ZERO and req.side == "Bid")
        if not reduces:
            raise EngineReject(
                "INVALID_ORDER", "Reduce only order not reduced (ReduceOnlyNotReduced)"
            )
        if req.quantity > abs(net):
            raise EngineReject(
                "INVALID_ORDER",
                f"Reduce only order quantity {req.quantity} exceeds the position {abs(net)} "
                "(ReduceOnlyNotReduced)",
            )

    def _reserve(self, spec: MarketSpec, order: BookOrder, exec_price: Decimal | None) -> None:
        """Lock what the order may spend (spot), or check margin (perp)."""
        if spec.is_perp:
            if order.reduce_only:
                return
            price = exec_price if exec_price is not None else order.price
            assert price is not None
            required = order.quantity * price * spec.initial_margin
            if required + self._margin_in_use(order.account) > self.equity(order.account):
                raise EngineReject("INSUFFICIENT_MARGIN", "Insufficient margin")
            return
        if order.side == "Bid":
            asset = spec.quote
            price = order.price if order.order_type == "Limit" else exec_price
            assert price is not None
            amount = order.quantity * price
        else:
            asset, amount = spec.base, order.quantity
        bal = self.balance(order.account, asset)
        if bal.available < amount:
            raise EngineReject("INSUFFICIENT_FUNDS", "Insufficient funds")
        bal.available -= amount
        bal.locked += amount
        order.locked = amount
        self._changes.balances.add((order.account, asset))

    def _margin_in_use(self, account: str) -> Decimal:
        used = ZERO
        for symbol, pos in self.account_positions(account):
            spec = self.markets[symbol]
            used += (
                abs(pos.net_quantity)
                * self.mark_price(symbol, pos.entry_price)
                * (spec.initial_margin)
            )
        for order in self.orders.values():
            spec = self.markets[order.symbol]
            if order.account == account and spec.is_perp and not order.reduce_only:
                used += order.remaining * (order.price or ZERO) * spec.initial_margin
        return used

    def _rest(self, order: BookOrder) -> None:
        assert order.price is not None
        seq = int(order.id)
        if order.side == "Bid":
            heapq.heappush(self._bids[order.symbol], (-order.price, seq, order.id))
        else:
            heapq.heappush(self._asks[order.symbol], (order.price, seq, order.id))

    def _fill_resting(self, spec: MarketSpec, order_id: str, now_ms: int) -> int:
        order = self.orders.get(order_id)
        if order is None or not order.is_open:
            return 0  # cancelled since it was pushed: lazy deletion
        assert order.price is not None
        quantity = order.remaining
        if order.reduce_only:
            pos = self.positions.get((order.account, order.symbol))
            net = pos.net_quantity if pos else ZERO
            reducible = net if order.side == "Ask" else -net
            if reducible <= ZERO:
                self._close(order, "Expired", now_ms, "ReduceOnlyNotReduced")
                self._touch(order)
                return 0
            quantity = min(quantity, reducible)
        self._fill(spec, order, order.price, quantity, is_maker=True, now_ms=now_ms)
        if order.is_open:  # a reduce-only order the position could not absorb in full
            self._close(order, "Expired", now_ms, "ReduceOnlyNotReduced")
        self._touch(order)
        return 1

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
            held = order.locked * quantity / order.remaining
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
        self._event("orderCancelled" if status == "Cancelled" else "orderExpired", order, now_ms)
        self._touch(order)

    def _touch(self, order: BookOrder) -> None:
        self._changes.orders[order.id] = order

    def _event(
        self, kind: str, order: BookOrder, now_ms: int, fill: BookFill | None = None
    ) -> None:
        # A snapshot: later fills in the same batch must not rewrite this event's fields.
        self._changes.events.append((kind, replace(order), order.account, fill))
