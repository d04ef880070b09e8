"""Reads from the exchange the trading cycle needs: fills, missing orders, the book's top,
the exchange's own position and the mark price. Each read is wrapped by `_call`."""

from __future__ import annotations

from decimal import Decimal

from gridkeeper.bot.execution import now_ms
from gridkeeper.bot.reconcile import apply_fills
from gridkeeper.bot.runner_base import RunnerBase
from gridkeeper.exchange.errors import ExchangeError
from gridkeeper.exchange.models import Fill, Order

FILL_OVERLAP_MS = 60_000  # re-read fills this far behind the checkpoint; duplicates are ignored
FILL_PAGE = 1000
HISTORY_LIMIT = 200  # closed orders read per full reconcile (missing ones: by orderId)


class ExchangeReads(RunnerBase):
    """The exchange reads of a cycle, a full reconcile and an adoption."""

    async def _exchange_figure(self, *, available: bool = False) -> Decimal:
        """Perp: the account's net position on the symbol. Spot: its base balance (total, or
        `available`: what is not locked in orders)."""
        market = self.strategy.market
        if market.spot:
            balances = await self._call(self.client.get_balances())
            base = balances.get(market.base)
            quote = balances.get(market.quote)
            self.balances = (  # for the monitor's balance_low (no extra read)
                base.available if base is not None else Decimal(0),
                quote.available if quote is not None else Decimal(0),
            )
            if base is None:
                return Decimal(0)
            figure: Decimal = base.available if available else base.total
            return figure
        positions = await self._call(self.client.get_positions(self.spec.symbol))
        return next((p.net_quantity for p in positions if p.symbol == self.spec.symbol), Decimal(0))

    async def _send_close(self) -> None:
        """The closing phase's market close, sized against the exchange's figure read right
        before it (planning.plan_close): perps the net position, spot the available base. A
        read that fails sends nothing; the next cycle reads again (never a stale figure)."""
        strategy = self.strategy
        if self.executor.holding or not strategy.close_due(now_ms()):
            return  # a rate-limit hold: the figure is read when the close can go out
        try:
            # Spot: the available base (the grid's own orders are cancelled before a close, so
            # what is locked belongs to someone else).
            figure = await self._exchange_figure(available=True)
        except ExchangeError as exc:
            self._emit("exchange_error", f"position not read before the close ({exc}); next cycle")
            return
        await self.executor.run(strategy.plan_close(now_ms(), figure))

    async def _refresh_mark(self, *, full: bool = True) -> None:
        """Perps holding a position: keep the exchange's mark in the state (total PnL is valued
        at it, as the exchange values the account). `/api/v1/markPrices` gives it at full
        precision (the position's `markPrice` is rounded to the tick). A flat grid's PnL does
        not depend on it: no read. Between full reconciles the streamed mark (market_stream's
        `markPrice.<symbol>`) stands in for the read while the stream holds one."""
        st = self.strategy.state
        if self.strategy.market.spot or st.position == 0:
            if st.position == 0:
                st.mark_price = None  # as on a fill that made it flat (a state saved before)
            return
        mark = self.market.mark_price() if self.market is not None and not full else None
        if mark is None:
            try:
                mark = await self._call(self.client.get_mark_price(self.spec.symbol))
            except ExchangeError as exc:
                # The mark only values the position: without it the limits watch the last trade
                # alone (what a close would get). Failing the cycle here held back every order
                # it implied, the closes of fills just applied too, for the whole outage. The
                # old mark is dropped, not kept: it may be one saved long ago (a restart).
                st.mark_price = None
                self._emit("exchange_error", f"mark price not read ({exc}); valued at the last")
                return
        if mark is not None and mark > 0:
            st.mark_price = mark

    async def _mark_price(self) -> Decimal:
        if not self.strategy.market.spot:
            positions = await self._call(self.client.get_positions(self.spec.symbol))
            for p in positions:
                if p.symbol == self.spec.symbol and p.mark_price > 0:
                    mark: Decimal = p.mark_price
                    return mark
        ticker = await self._call(self.client.get_ticker(self.spec.symbol))
        last: Decimal = ticker.last_price
        return last

    async def _book_top(self) -> tuple[Decimal | None, Decimal | None]:
        """Best bid and ask: legs are placed against the book, not the last trade."""
        try:
            depth = await self._call(self.client.get_depth(self.spec.symbol))
        except ExchangeError:
            return None, None  # the last price stands in for the book this round
        bids = [Decimal(str(level[0])) for level in depth.get("bids") or []]
        asks = [Decimal(str(level[0])) for level in depth.get("asks") or []]
        return (max(bids) if bids else None), (min(asks) if asks else None)

    async def _look_up_missing(self, open_orders: list[Order], history: list[Order]) -> list[Order]:
        """Our acknowledged orders that are neither open nor in the history page, by orderId."""
        known = {o.client_id for o in [*open_orders, *history]}
        found: list[Order] = []
        for tracked in list(self.strategy.state.orders.values()):
            if tracked.status != "live" or not tracked.order_id or tracked.client_id in known:
                continue
            found += await self._call(
                self.client.get_order_history(self.spec.symbol, order_id=tracked.order_id)
            )
        return found

    async def _catch_up_fills(self) -> None:
        """Apply every fill the exchange has that is not applied yet, read over REST (they join
        `unsaved_fills`, saved with the state). Runs before a decision that
        changes the grid's status: the order stream delivers one fill per message, and a
        boundary action or stop-loss taken between two of them would act on a position missing
        fills that already happened (re-laying the range around half a jump, say)."""
        try:
            fills = await self._fills_since(self.strategy.state.checkpoint_ms - FILL_OVERLAP_MS)
        except ExchangeError as exc:
            # Deciding on the fills the stream delivered beats not deciding: failing here held
            # the boundary action or stop-loss back every cycle while the fills endpoint failed.
            # A close waits for the fills of the orders it cancels; the reconcile reads the rest.
            self._emit("exchange_error", f"fills not read before a decision ({exc}); deciding")
            return
        seen = self._seen(fills)
        self.unsaved_fills += apply_fills(self.strategy, fills, self.store.issued, seen)

    async def _fills_since(self, from_ms: int) -> list[Fill]:
        fills: list[Fill] = []
        offset = 0
        while True:
            page = await self._call(
                self.client.get_fills(
                    self.spec.symbol, from_ms=max(0, from_ms), limit=FILL_PAGE, offset=offset
                )
            )
            fills.extend(page)
            if len(page) < FILL_PAGE:
                return fills
            offset += len(page)
