"""Price moves: the market moves, and every resting order the move trades through fills.

Without a liquidity model a crossed order fills in full at its own price; with one, each price
level fills at most the model's traded volume per update, FIFO within a level, and what is left
stays crossed for the next update. Apart from order entry (paper/engine.py) because it is the
other half of matching: driven by the price feed, not by a request.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from decimal import Decimal

from gridkeeper.exchange.paper.book import ZERO, MarketSpec
from gridkeeper.exchange.paper.settlement import Settlement


class RestingFills(Settlement):
    """`set_price` and the fills of resting orders it causes."""

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
