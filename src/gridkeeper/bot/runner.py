"""The bot process: start-up, the trading loop, and the commands the control API calls.

One asyncio loop runs everything: the trading loop (woken by the websocket or a poll timer),
the websocket reader, and the HTTP control API. Every change to the strategy happens under one
lock and is saved before any order it implies is sent.

The runner is split by responsibility: `runner_base` (state and shared helpers),
`exchange_reads` (what a cycle reads), `position_check` (the exchange's position, funding),
`runner_views` (health and views), `commands` (what the control API calls). `BotRunner` here
joins them with start-up and the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from decimal import Decimal

from gridkeeper.bot.client_ids import free_tag
from gridkeeper.bot.commands import RunnerCommands
from gridkeeper.bot.errors import BotFatal
from gridkeeper.bot.exchange_reads import FILL_OVERLAP_MS, FILL_PAGE, HISTORY_LIMIT
from gridkeeper.bot.execution import Executor, now_ms
from gridkeeper.bot.fast_fill import FastFills
from gridkeeper.bot.grid import GridError
from gridkeeper.bot.layout import pending_leg
from gridkeeper.bot.position_check import FUNDING_PAGE, MISMATCH_CONFIRM_S, PositionCheck
from gridkeeper.bot.reconcile import apply_fills, reconcile
from gridkeeper.bot.runner_base import BotSpec
from gridkeeper.bot.strategy import GridStrategy, MarketSpec
from gridkeeper.exchange.errors import AuthError, ExchangeError
from gridkeeper.exchange.models import Market, Order

UNRESOLVED_RETRY_S = 2.0  # the next reconcile while an order's outcome is unknown (history lag)

__all__ = [
    "FILL_OVERLAP_MS",
    "FILL_PAGE",
    "FUNDING_PAGE",
    "HISTORY_LIMIT",
    "MISMATCH_CONFIRM_S",
    "BotRunner",
    "BotSpec",
    "market_spec",
]


def market_spec(market: Market) -> MarketSpec:
    return MarketSpec(
        symbol=market.symbol,
        base=market.base_symbol,
        quote=market.quote_symbol,
        spot=market.market_type == "SPOT",
        tick_size=market.tick_size,
        step_size=market.step_size,
        min_quantity=market.min_quantity,
        maker_fee=market.maker_fee,
        band_min=market.min_multiplier,
        band_max=market.max_multiplier,
    )


class BotRunner(PositionCheck, FastFills, RunnerCommands):
    """One bot process: start-up, the trading loop, and the commands the control API calls."""

    # ---- start-up -----------------------------------------------------------------------
    async def start(self) -> None:
        """Load or create the grid and reconcile with the exchange. BotFatal when impossible."""
        spec = self.spec
        try:
            market = await self.client.get_market(spec.symbol)
            ticker = await self.client.get_ticker(spec.symbol)
        except AuthError as exc:
            raise BotFatal(f"the exchange refused our keys: {exc}") from exc
        except ExchangeError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                raise BotFatal(f"market {spec.symbol}: {exc}") from exc
            raise
        mspec = market_spec(market)
        want_spot = spec.strategy_kind != "perp_grid"
        if mspec.spot != want_spot:
            raise BotFatal(
                f"metadata.strategy {spec.strategy_kind!r} does not fit market {spec.symbol} "
                f"({market.market_type}); use {'grid' if mspec.spot else 'perp_grid'}"
            )
        if mspec.spot and spec.config.grid_type == "short":
            raise BotFatal("strategy_config.grid_type: a spot grid cannot be short")
        saved = self.store.load()
        try:
            if saved is None:
                strategy = await self._fresh(mspec, ticker.last_price)
            else:
                strategy = GridStrategy(spec.name, spec.config, mspec, saved)
                if saved.quantity is not None and saved.quantity != strategy.grid.quantity:
                    # Half-filled legs were sized with the old quantity: mixing sizes would
                    # place a second order at a level that already holds part of one.
                    raise BotFatal(
                        f"strategy_config.order_quantity: the saved grid uses {saved.quantity}, "
                        f"the config now gives {strategy.grid.quantity}; put it back, or stop "
                        "the bot, cancel its orders and remove its store to start a new grid"
                    )
        except GridError as exc:
            raise BotFatal(f"strategy_config.{exc.field}: {exc}") from exc
        strategy.close_reads_exchange = True  # the close is sized by the exchange (_send_close)
        self._strategy = strategy
        self._executor = Executor(self.client, strategy, self._save)
        self._emit(
            "bot_started",
            "grid loaded" if saved else "new grid",
            symbol=spec.symbol,
            lower=str(strategy.state.lower),
            upper=str(strategy.state.upper),
            slots=len(strategy.state.slots),
            status=strategy.state.status,
        )
        if saved is None:
            self._save([])
        async with self.lock:
            await self._cycle(full=True)

    async def _fresh(self, market: MarketSpec, price: Decimal) -> GridStrategy:
        cfg = self.spec.config
        inventory = Decimal(0)
        if market.spot:
            balances = await self._call(self.client.get_balances())
            base = balances.get(market.base)
            quote = balances.get(market.quote)
            inventory = base.available if base is not None else Decimal(0)
            strategy = GridStrategy.fresh(self.spec.name, cfg, market, price, inventory)
            need = sum(
                (
                    s.buy * strategy.grid.quantity
                    for s in strategy.state.slots
                    if pending_leg(s)[0] == "Bid" and s.buy < price
                ),
                Decimal(0),
            )
            have = quote.available if quote is not None else Decimal(0)
            if need > have:
                raise BotFatal(
                    f"insufficient funds at start: the grid's buys need {need} {market.quote}, "
                    f"the account has {have} available"
                )
        else:
            strategy = GridStrategy.fresh(self.spec.name, cfg, market, price)
        # Fills (and funding) before this moment are not the grid's business.
        strategy.state.checkpoint_ms = now_ms() - FILL_OVERLAP_MS
        strategy.state.funding_checkpoint_ms = now_ms()
        # A new grid's ids must not collide with any order still out there: another bot's on
        # the same account, or this bot's own from a store that was lost.
        open_orders = await self._call(self.client.get_open_orders())
        history = await self._call(self.client.get_order_history(limit=HISTORY_LIMIT))
        strategy.state.id_tag = free_tag(o.client_id for o in [*open_orders, *history])
        strategy.state.quantity = strategy.grid.quantity
        return strategy

    # ---- the loop -----------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        """Trade until `stopping` is set; exchange trouble is reported, never fatal."""
        reader = asyncio.create_task(self._read_updates()) if self.updates else None
        try:
            while not stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.spec.config.poll_interval_s)
                self.wake.clear()
                if stopping.is_set():
                    break
                due = (
                    time.monotonic() - self._last_reconcile >= self.spec.config.reconcile_interval_s
                )
                full = False
                try:
                    async with self.lock:
                        # After a failed full reconcile one light cycle runs before the next try:
                        # a read only the reconcile makes (open orders, history, the position)
                        # failing for long must not also hold back the closes of new fills and
                        # the limits (every loop retried the due reconcile, and failed).
                        full = (due or self.need_reconcile) and not self._reconcile_failed
                        self._reconcile_failed = False
                        # A streamed fill goes straight to its replacement (fast_fill); the
                        # full cycle waits for the next wake-up.
                        if full or not await self._fill_cycle():
                            await self._cycle(full=full)
                except BotFatal:
                    raise
                except ExchangeError as exc:
                    self._reconcile_failed = full
                    self._exchange_failed(exc)
                    await asyncio.sleep(min(5.0, self.spec.config.poll_interval_s * 2))
        finally:
            if reader is not None:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader
            self._save([])

    async def _read_updates(self) -> None:
        assert self.updates is not None
        while True:
            try:
                self.order_stream = self.updates(self._on_gap)
                async for update in self.order_stream:
                    self._take_update(update)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the stream reconnects itself; this is a last resort
                self._emit("stream_error", f"order stream failed: {exc}")
            await asyncio.sleep(2.0)

    def _on_gap(self) -> None:
        self.need_reconcile = True
        self.wake.set()

    async def _cycle(self, *, full: bool) -> None:
        """One round: price, fills (or a full reconcile), risk, then the orders that follow."""
        strategy = self.strategy
        started = time.monotonic()
        # At rest the streamed price and book (market_stream) stand in for the REST reads;
        # a full reconcile still measures the exchange's latency.
        price = self.market.price() if self.market is not None and not full else None
        if price is None:
            ticker = await self._call(self.client.get_ticker(self.spec.symbol))
            price = ticker.last_price
            self.latency_s = time.monotonic() - started
        open_orders: list[Order] = []
        history: list[Order] = []
        position_before: Decimal | None = None
        if full:
            position_before = await self._exchange_figure()
            # Orders before fills: a fill landing between the two reads is then in the fills,
            # never lost between "not open any more" and "no fill seen".
            open_orders = await self._call(self.client.get_open_orders(self.spec.symbol))
            history = await self._call(
                self.client.get_order_history(self.spec.symbol, limit=HISTORY_LIMIT)
            )
            history += await self._look_up_missing(open_orders, history)
        fills = []
        read_fills = full or self.fills_due or not self._stream_live()
        if read_fills:
            # Fills over REST: in every full reconcile, and in between only when the order
            # stream is down or reported a fill it could not describe (fast_fill).
            self.fills_due = False  # before the read: a message during it asks again
            try:
                fills = await self._fills_since(strategy.state.checkpoint_ms - FILL_OVERLAP_MS)
            except BaseException:
                self.fills_due = True  # not read: the next cycle tries again
                raise
        seen = self._seen(fills)
        if full:
            report = reconcile(
                strategy,
                open_orders=open_orders,
                fills=fills,
                issued=self.store.issued,
                seen=seen,
                history={o.client_id: o for o in history if o.client_id is not None},
                in_flight=self.executor.busy,
            )
            # Recorded at once: a read below that fails must not leave them applied in memory
            # yet unknown to the store (the next read would apply them twice).
            self.unsaved_fills += report.applied
            await self._book_funding()
            assert position_before is not None
            await self._check_position(position_before, await self._exchange_figure())
            self._last_reconcile = time.monotonic()
            if report.unresolved:
                # An order gone from the book whose history entry lags: its level waits until a
                # reconcile learns how much it filled. The next one comes in UNRESOLVED_RETRY_S,
                # not a whole interval (30 s by default: as long as the invariant's grace).
                interval = self.spec.config.reconcile_interval_s
                self._last_reconcile -= max(0.0, interval - UNRESOLVED_RETRY_S)
            self.need_reconcile = False
        else:
            self.unsaved_fills += apply_fills(strategy, fills, self.store.issued, seen)
            if not read_fills and strategy.decision_due(price):
                await self._catch_up_fills()
        await self._refresh_mark(full=full)  # perps: after the fills, so a new position is valued
        self._save([])
        top = self.market.top() if self.market is not None and not full else None
        bid, ask = top if top is not None else await self._book_top()
        actions = strategy.on_price(price, now_ms(), bid=bid, ask=ask)
        await self.executor.run(actions)
        await self._send_close()  # a closing phase's market close, once the cancels are through
        await self.executor.run(strategy.check_exits(now_ms()))  # the invariant
        self.exchange_error = None
        self.last_loop_at = time.time()
        self._flush_events()
