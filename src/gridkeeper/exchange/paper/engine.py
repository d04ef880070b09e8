"""The paper exchange's matching engine: pure, synchronous, clock passed in.

Liquidity: without a model the price source is the market. A marketable order fills in full at
the current price (a market order with slippage added); a resting limit order fills in full, as
maker at its own price, once the price trades *through* it (a bid when the price drops below it,
an ask when it rises above it). With a `LiquidityModel` (paper/liquidity.py) takers walk a
synthetic book with a spread and finite depth, and resting orders fill at most the model's traded
volume per price level per price update, so they can fill partially.

The engine is layered, one responsibility a module: paper/state.py (state and queries) <-
paper/settlement.py (reserve, fill, release: the money) <- paper/resting.py (price moves and the
resting fills they cause) <- this module (order entry: taking, resting, cancels).
"""

from __future__ import annotations

from decimal import Decimal

from gridkeeper.exchange.paper.book import (
    ZERO,
    BookOrder,
    EngineReject,
    MarketSpec,
    OrderInput,
)
from gridkeeper.exchange.paper.liquidity import Level, best_bid_ask, walk
from gridkeeper.exchange.paper.resting import RestingFills
from gridkeeper.exchange.paper.rules import validate
from gridkeeper.exchange.paper.selftrade import self_trade
from gridkeeper.exchange.paper.state import Changes

__all__ = ["Changes", "Engine", "EngineReject", "OrderInput"]


class Engine(RestingFills):
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
