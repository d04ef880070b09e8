"""The paper exchange's matching engine: pure, synchronous, clock passed in.

Liquidity: without a model the price source is the market. A marketable order fills in full at
the current price (a market order with slippage added); a resting limit order fills in full, as
maker at its own price, once the price trades *through* it (a bid when the price drops below it,
an ask when it rises above it). With a `LiquidityModel` (paper/liquidity.py) takers walk a
synthetic book with a spread and finite depth, and resting orders fill at most the model's traded
volume per price level per price update, so they can fill partially. State and queries live in
paper/state.py.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from decimal import Decimal

from gridkeeper.exchange.paper.book import (
    ZERO,
    BookFill,
    BookOrder,
    EngineReject,
    MarketSpec,
    OrderInput,
    PositionState,
    fee_of,
)
from gridkeeper.exchange.paper.liquidity import Level, best_bid_ask, walk
from gridkeeper.exchange.paper.rules import validate
from gridkeeper.exchange.paper.selftrade import self_trade
from gridkeeper.exchange.paper.state import Changes, EngineState

__all__ = ["Changes", "Engine", "EngineReject", "OrderInput"]


class Engine(EngineState):
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
        plan = self._taker_plan(spec, req, last)  # None: the order does not cross the book
        if req.post_only and plan is not None:
            raise EngineReject(
                "INVALID_ORDER", "Order would immediately match and take (PostOnlyTaker)"
            )
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
            self_trade_prevention=req.self_trade_prevention,
            system_order_type=system_order_type,
        )
        makers: list[BookOrder] = []
        stp_taker = False
        if self.self_trade_prevention:
            makers, plan, stp_taker = self._self_trade(order, plan)
        self._reserve(spec, order, plan or [], last)
        self.next_order_id += 1
        self._event("orderAccepted", order, now_ms)
        for maker in makers:
            self._close(maker, "Expired", now_ms, "SelfTradePrevention")
        self._take(spec, order, plan or [], stp_taker, now_ms)
        self._touch(order)
        return order

    def _taker_plan(self, spec: MarketSpec, req: OrderInput, last: Decimal) -> list[Level] | None:
        """The (price, quantity) fills a new order takes at once; None when it would rest."""
        model = self.liquidity
        if model is None:
            if req.order_type == "Market":
                slip = self.market_slippage if req.side == "Bid" else -self.market_slippage
                return [(spec.round_price(last * (1 + slip)), req.quantity)]
            assert req.price is not None
            crosses = req.price >= last if req.side == "Bid" else req.price <= last
            return [(last, req.quantity)] if crosses else None
        limit = req.price if req.order_type == "Limit" else None
        if limit is not None:
            bid, ask = best_bid_ask(spec, last, model)
            if not (limit >= ask if req.side == "Bid" else limit <= bid):
                return None
        taken = self._taken[spec.symbol]
        return walk(spec, last, model, req.side, req.quantity, limit, taken)

    def _self_trade(
        self, order: BookOrder, plan: list[Level] | None
    ) -> tuple[list[BookOrder], list[Level] | None, bool]:
        """Own resting orders the new one reaches, judged by its selfTradePrevention mode."""
        bid = order.side == "Bid"
        heap = self._asks[order.symbol] if bid else self._bids[order.symbol]
        if not heap:
            return [], plan, False
        best = heap[0][0] if bid else -heap[0][0]
        if order.price is not None and (best > order.price if bid else best < order.price):
            return [], plan, False  # the nearest opposite order is beyond reach: O(1) common case
        opposite = [o for _, _, oid in heap for o in (self.orders.get(oid),) if o is not None]
        return self_trade(order, plan, opposite)

    def _take(
        self, spec: MarketSpec, order: BookOrder, plan: list[Level], stp_taker: bool, now_ms: int
    ) -> None:
        """Fill a new order's plan, then expire or rest what is left."""
        planned = sum((q for _, q in plan), ZERO)
        if order.time_in_force == "FOK" and planned < order.quantity:
            plan = []  # all or nothing
        taken = self._taken[spec.symbol] if self.liquidity is not None else None
        for price, quantity in plan:
            self._fill(spec, order, price, quantity, is_maker=False, now_ms=now_ms)
            if taken is not None:
                taken[price] = taken.get(price, ZERO) + quantity
        if not order.is_open:
            return
        if stp_taker:
            self._close(order, "Expired", now_ms, "SelfTradePrevention")
        elif order.time_in_force == "FOK":
            self._close(order, "Expired", now_ms, "FillOrKill")
        elif order.time_in_force == "IOC":
            self._close(order, "Expired", now_ms, "ImmediateOrCancel")
        elif order.order_type == "Market":
            self._close(order, "Expired", now_ms, "InsufficientLiquidity")  # the book ran out
        else:
            self.orders[order.id] = order
            self._rest(order)

    def cancel(
        self, account: str, symbol: str, order_id: str | None, client_id: int | None, now_ms: int
    ) -> BookOrder:
        self.market(symbol)
        order = self.find_open(account, symbol, order_id, client_id)
        if order is None:
            raise EngineReject("RESOURCE_NOT_FOUND", "Order not found", 404)
        self._close(order, "Cancelled", now_ms, None)
        return order

    def request_cancel(
        self, account: str, symbol: str, order_id: str | None, client_id: int | None, now_ms: int
    ) -> BookOrder | None:
        """Cancel now (the order), or with a cancel delay accept it for later (None: a 202).

        Until `complete_due` runs at or after the due time the order stays open and fillable.
        """
        if self.cancel_delay_ms <= 0:
            return self.cancel(account, symbol, order_id, client_id, now_ms)
        self.market(symbol)
        order = self.find_open(account, symbol, order_id, client_id)
        if order is None:
            raise EngineReject("RESOURCE_NOT_FOUND", "Order not found", 404)
        if order.id not in self.pending_cancels:  # a repeated cancel keeps the first due time
            due = now_ms + self.cancel_delay_ms
            self.pending_cancels[order.id] = due
            self._changes.pending_cancels[order.id] = due  # persisted: a restart completes it
        return None

    def complete_due(self, now_ms: int) -> list[BookOrder]:
        """Finish the accepted cancels whose time has come (an order filled since is left)."""
        done = []
        for order_id, due in list(self.pending_cancels.items()):
            if due > now_ms:
                continue
            del self.pending_cancels[order_id]
            self._changes.pending_cancels[order_id] = None
            order = self.orders.get(order_id)
            if order is not None and order.is_open:
                self._close(order, "Cancelled", now_ms, None)
                done.append(order)
        return done

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
        self._taken[symbol].clear()  # the book model's depth is regenerated around the new price
        budget = self.liquidity.trade_volume_per_level if self.liquidity else None
        bids, asks = self._bids[symbol], self._asks[symbol]
        fills = 0
        if budget is None:
            while bids and -bids[0][0] > price:
                _, _, order_id = heapq.heappop(bids)
                fills += self._fill_resting(spec, order_id, None, now_ms)[0]
            while asks and asks[0][0] < price:
                _, _, order_id = heapq.heappop(asks)
                fills += self._fill_resting(spec, order_id, None, now_ms)[0]
            return fills
        fills += self._sweep(spec, bids, lambda key: -key > price, budget, now_ms)
        fills += self._sweep(spec, asks, lambda key: key < price, budget, now_ms)
        return fills

    def _sweep(
        self,
        spec: MarketSpec,
        heap: list[tuple[Decimal, int, str]],
        crossed: Callable[[Decimal], bool],
        budget: Decimal,
        now_ms: int,
    ) -> int:
        """Fill crossed resting orders with at most `budget` per price level, FIFO in a level.

        What is left open stays crossed in the book and gets another `budget` next update.
        """
        fills = 0
        keep: list[tuple[Decimal, int, str]] = []
        level: Decimal | None = None
        left = budget
        while heap and crossed(heap[0][0]):
            entry = heapq.heappop(heap)
            order = self.orders.get(entry[2])
            if order is None or not order.is_open:
                continue  # lazy deletion
            if entry[0] != level:
                level, left = entry[0], budget
            if left > ZERO:
                filled, used = self._fill_resting(spec, entry[2], left, now_ms)
                fills += filled
                left -= used
            if order.is_open:
                keep.append(entry)
        for entry in keep:
            heapq.heappush(heap, entry)
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

    def _fill_resting(
        self, spec: MarketSpec, order_id: str, cap: Decimal | None, now_ms: int
    ) -> tuple[int, Decimal]:
        """Fill a crossed resting order (at most `cap`); return (fills, quantity filled)."""
        order = self.orders.get(order_id)
        if order is None or not order.is_open:
            return 0, ZERO  # cancelled since it was pushed: lazy deletion
        assert order.price is not None
        quantity = order.remaining
        reducible: Decimal | None = None
        if order.reduce_only:
            pos = self.positions.get((order.account, order.symbol))
            net = pos.net_quantity if pos else ZERO
            reducible = net if order.side == "Ask" else -net
            if reducible <= ZERO:
                self._close(order, "Expired", now_ms, "ReduceOnlyNotReduced")
                self._touch(order)
                return 0, ZERO
            quantity = min(quantity, reducible)
        if cap is not None:
            quantity = min(quantity, cap)
        self._fill(spec, order, order.price, quantity, is_maker=True, now_ms=now_ms)
        if order.is_open and reducible is not None and reducible <= quantity:
            # a reduce-only order the position could not absorb in full
            self._close(order, "Expired", now_ms, "ReduceOnlyNotReduced")
        self._touch(order)
        return 1, quantity

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
