"""The bot process: start-up, the trading loop, and the commands the control API calls.

One asyncio loop runs everything: the trading loop (woken by the websocket or a poll timer),
the websocket reader, and the HTTP control API. Every change to the strategy happens under one
lock and is saved before any order it implies is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from gridkeeper.bot.adopt import MISMATCH, adopt_position
from gridkeeper.bot.client_ids import free_tag
from gridkeeper.bot.errors import BotFatal
from gridkeeper.bot.execution import Executor, now_ms
from gridkeeper.bot.grid import GridError
from gridkeeper.bot.layout import pending_leg
from gridkeeper.bot.reconcile import (
    apply_fills,
    apply_funding,
    mismatch_reason,
    position_gap,
    reconcile,
)
from gridkeeper.bot.state import TrackedOrder
from gridkeeper.bot.store import Store
from gridkeeper.bot.strategy import GridStrategy, MarketSpec, PositionChoice
from gridkeeper.bot.views import dec_str as _s
from gridkeeper.bot.views import grid_view, pnl_view
from gridkeeper.config.strategy import GridStrategyConfig
from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.errors import AuthError, ExchangeError
from gridkeeper.exchange.models import Fill, Market, Order

FILL_OVERLAP_MS = 60_000  # re-read fills this far behind the checkpoint; duplicates are ignored
FILL_PAGE = 1000
FUNDING_PAGE = 100
# A position gap must last this long (and two full reconciles) before it pauses the grid: fill
# history may lag the position by a few seconds, and a lagging fill is not a mismatch.
MISMATCH_CONFIRM_S = 10.0
HISTORY_LIMIT = 200  # closed orders read per full reconcile (missing ones: by orderId)


@dataclass(frozen=True)
class BotSpec:
    """Everything the runner needs from the instance config."""

    name: str
    home: Path
    symbol: str
    strategy_kind: str  # "grid" (spot) or "perp_grid"
    config: GridStrategyConfig


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


def _raise_alert(home: Path) -> Callable[[str, str, str], None]:
    def raise_(name: str, level: str, message: str) -> None:
        # The monitor's public API (a row in monitor.db): works while the monitor restarts.
        from gridkeeper.monitor import raise_alert

        raise_alert(name, level=level, message=message, home=home)

    return raise_


def _resolve_alert(home: Path) -> Callable[[str], None]:
    def resolve(name: str) -> None:
        from gridkeeper.monitor import resolve_alert

        resolve_alert(name, home=home)

    return resolve


class BotRunner:
    def __init__(
        self,
        spec: BotSpec,
        client: BackpackClient,
        store: Store,
        *,
        on_event: Callable[[str, str, dict[str, Any]], None],
        updates: Callable[[Callable[[], None]], AsyncIterable[object]] | None = None,
    ) -> None:
        self.spec = spec
        self.client = client
        self.store = store
        self.on_event = on_event
        self.updates = updates
        self.lock = asyncio.Lock()
        self.wake = asyncio.Event()
        self.started_at = time.time()
        self.last_loop_at: float | None = None
        self.latency_s: float | None = None
        self.exchange_error: str | None = None
        self.need_reconcile = True
        self._last_reconcile = 0.0
        self._strategy: GridStrategy | None = None
        self._executor: Executor | None = None
        self.exchange_position: Decimal | None = None  # last figure read in a full reconcile
        self._last_gap: Decimal | None = None  # the gap seen in the last full reconcile
        self._gap_since = 0.0  # monotonic time that gap was first seen
        self.raise_alert: Callable[[str, str, str], None] = _raise_alert(spec.home)
        self.resolve_alert: Callable[[str], None] = _resolve_alert(spec.home)

    # ---- start-up -----------------------------------------------------------------------
    @property
    def strategy(self) -> GridStrategy:
        assert self._strategy is not None, "start() first"
        return self._strategy

    @property
    def executor(self) -> Executor:
        assert self._executor is not None, "start() first"
        return self._executor

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
                try:
                    async with self.lock:
                        await self._cycle(full=due or self.need_reconcile)
                except BotFatal:
                    raise
                except ExchangeError as exc:
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
                async for _update in self.updates(self._on_gap):
                    self.wake.set()
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
        ticker = await self._call(self.client.get_ticker(self.spec.symbol))
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
        fills = await self._fills_since(strategy.state.checkpoint_ms - FILL_OVERLAP_MS)
        seen = self.store.seen(f.trade_id for f in fills)
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
            applied = report.applied
            await self._book_funding()
            assert position_before is not None
            await self._check_position(position_before, await self._exchange_figure())
            self._last_reconcile = time.monotonic()
            self.need_reconcile = False
        else:
            applied = apply_fills(strategy, fills, self.store.issued, seen)
        self._save([], applied)
        bid, ask = await self._book_top()
        actions = strategy.on_price(ticker.last_price, now_ms(), bid=bid, ask=ask)
        await self.executor.run(actions)
        await self.executor.run(strategy.check_exits(now_ms()))  # the invariant
        self.exchange_error = None
        self.last_loop_at = time.time()
        self._flush_events()

    # ---- the exchange's own position (issue 9, defect 5) ----------------------------------
    async def _exchange_figure(self) -> Decimal:
        """Perp: the account's net position on the symbol. Spot: its base balance (total)."""
        market = self.strategy.market
        if market.spot:
            balances = await self._call(self.client.get_balances())
            base = balances.get(market.base)
            return base.total if base is not None else Decimal(0)
        positions = await self._call(self.client.get_positions(self.spec.symbol))
        return next((p.net_quantity for p in positions if p.symbol == self.spec.symbol), Decimal(0))

    async def _check_position(self, before: Decimal, after: Decimal) -> None:
        """Compare the grid's position with the exchange's; pause on a confirmed gap.

        The figure is read before and after the fills: when the two differ a fill landed in
        between and this round proves nothing. A gap counts once the same gap has been seen for
        MISMATCH_CONFIRM_S in consecutive full reconciles, so fill history that lags the
        position is not a mismatch.
        """
        if before != after:
            return
        strategy = self.strategy
        st, market = strategy.state, strategy.market
        self.exchange_position = after
        gap = position_gap(st.position, after, spot=market.spot)
        if abs(gap) <= market.step_size:
            self._last_gap = None
            return
        if self._last_gap != gap:
            self._last_gap, self._gap_since = gap, time.monotonic()
            return
        confirmed = time.monotonic() - self._gap_since >= MISMATCH_CONFIRM_S
        if not confirmed or st.status == "stopped" or (st.reason or "").startswith(MISMATCH):
            return
        reason = mismatch_reason(st.position, after, gap, market.step_size, market.spot)
        reason = reason.replace("NAME", self.spec.name)
        if st.status == "paused":
            st.reason, st.auto_resume = reason, False  # a boundary pause must not auto-resume
        strategy.pause(reason)
        strategy.emit(
            MISMATCH,
            reason,
            grid_position=str(st.position),
            exchange_position=str(after),
            difference=str(gap),
        )
        await self._alert(reason)

    async def _alert(self, reason: str) -> None:
        try:
            await asyncio.to_thread(self.raise_alert, self._alert_name(), "error", reason)
        except Exception as exc:  # the pause stands; the log says the alert is missing
            self._emit("alert_failed", f"could not raise the monitor alert: {exc}")

    def _alert_name(self) -> str:
        return f"{MISMATCH}:{self.spec.name}"

    async def _book_funding(self) -> None:
        """Apply new funding payments of the symbol to the grid's cash (perps only)."""
        st = self.strategy.state
        if self.strategy.market.spot:
            return
        payments = []
        offset = 0
        while True:  # newest first: page back until the checkpoint is reached
            page = await self._call(
                self.client.get_funding_payments(
                    self.spec.symbol, limit=FUNDING_PAGE, offset=offset
                )
            )
            payments += page
            oldest = min((p.interval_end_ms for p in page), default=0)
            if len(page) < FUNDING_PAGE or oldest <= (st.funding_checkpoint_ms or 0):
                break
            offset += len(page)
        for payment in apply_funding(st, payments, self.spec.symbol):
            self.strategy.emit(
                "funding",
                f"funding {payment.quantity} (rate {payment.funding_rate})",
                quantity=str(payment.quantity),
                funding_rate=str(payment.funding_rate),
                interval_end_ms=payment.interval_end_ms,
                funding_total=str(st.funding),
            )

    async def adopt(self) -> dict[str, Any]:
        """Accept the exchange's position (booked at the mark price) and re-lay the grid."""
        async with self.lock:
            strategy = self.strategy
            figure = await self._exchange_figure()
            mark = await self._mark_price()
            if strategy.market.spot and figure >= strategy.state.position:
                target = strategy.state.position  # the balance covers the grid: nothing to adopt
            else:
                target = figure
            adoption = adopt_position(strategy, target, mark)
            self.exchange_position, self._last_gap = figure, None
            self._save([])
            await self.executor.run(strategy.plan(now_ms()))
            self._flush_events()
            try:
                await asyncio.to_thread(self.resolve_alert, self._alert_name())
            except Exception as exc:
                self._emit("alert_failed", f"could not resolve the monitor alert: {exc}")
            view = self.grid_view()
            view["adopted"] = {
                "before": _s(adoption.before),
                "after": _s(adoption.after),
                "mark_price": _s(adoption.mark),
            }
            return view

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

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except AuthError as exc:
            raise BotFatal(f"the exchange refused our keys: {exc}") from exc

    def _exchange_failed(self, exc: ExchangeError) -> None:
        self.exchange_error = str(exc)
        self._emit("exchange_error", str(exc), code=exc.code)
        self._flush_events()

    def _save(self, intents: list[TrackedOrder], fills: list[Fill] | None = None) -> None:
        if self._strategy is not None:
            self.store.save(self._strategy.state, intents=intents, fills=fills or [])

    def _emit(self, kind: str, message: str, **data: Any) -> None:
        self.on_event(kind, message, data)

    def _flush_events(self) -> None:
        if self._strategy is None:
            return
        for event in self._strategy.drain_events():
            self.on_event(event.kind, event.message, event.data)

    # ---- commands (the control API calls these) ----------------------------------------
    async def command(self, name: str, reason: str) -> dict[str, Any]:
        async with self.lock:
            strategy = self.strategy
            commands: dict[str, Callable[[str], bool]] = {
                "pause": strategy.pause,
                "resume": strategy.resume,
                "stop": strategy.stop,
            }
            changed = commands[name](reason)
            self._save([])
            await self.executor.run(strategy.plan(now_ms()))
            self._flush_events()
            return {
                "changed": changed,
                "status": strategy.state.status,
                "reason": strategy.state.reason,
            }

    async def adjust(
        self,
        lower: Decimal | None,
        upper: Decimal | None,
        num: int | None,
        *,
        position: PositionChoice = None,
    ) -> dict[str, Any]:
        """Validate in full (GridError names the field), then move the grid and persist it."""
        async with self.lock:
            strategy = self.strategy
            strategy.check_adjust(lower, upper, num, position)
            strategy.adjust(lower, upper, num, position=position)
            self._save([])  # the new range is durable before any order moves
            await self.executor.run(strategy.plan(now_ms()))
            self._flush_events()
            return self.grid_view()

    # ---- views --------------------------------------------------------------------------
    def health(self) -> tuple[bool, str]:
        if self._strategy is None:
            if self.exchange_error is not None:
                return False, f"starting: exchange unreachable: {self.exchange_error}"
            return False, "starting"
        if self.last_loop_at is None:
            return False, "loop has not completed a cycle"
        limit = max(10.0, 3 * self.spec.config.poll_interval_s + 5)
        if time.time() - self.last_loop_at > limit:
            return False, f"loop stalled for {time.time() - self.last_loop_at:.0f}s"
        if self.exchange_error is not None:
            return False, f"exchange unreachable: {self.exchange_error}"
        return True, "ok"

    def grid_view(self) -> dict[str, Any]:
        view = grid_view(self.spec.name, self.spec.symbol, self.spec.config, self.strategy)
        view["exchange_position"] = _s(self.exchange_position)
        view["price_band"] = self._band()
        return view

    def _band(self) -> list[str | None] | None:
        """The limit prices the exchange accepts at the last price ([low, high]), if it says."""
        market, last = self.strategy.market, self.strategy.state.last_price
        if last is None or (market.band_min is None and market.band_max is None):
            return None
        low = None if market.band_min is None else last * market.band_min
        high = None if market.band_max is None else last * market.band_max
        return [_s(low), _s(high)]

    def pnl(self) -> dict[str, str | None]:
        return pnl_view(self.strategy.state)

    def detailed(self) -> dict[str, Any]:
        ok, reason = self.health()
        data: dict[str, Any] = {
            "status": "healthy" if ok else "unhealthy",
            "reason": reason,
            "instance": self.spec.name,
            "uptime_s": round(time.time() - self.started_at, 3),
            "last_loop_at": self.last_loop_at,
            "exchange_latency_s": self.latency_s,
            "exchange_error": self.exchange_error,
        }
        if self._strategy is not None:
            st = self._strategy.state
            data.update(
                {
                    "state": st.status,
                    "state_reason": st.reason,
                    "symbol": self.spec.symbol,
                    "open_orders": sum(1 for o in st.orders.values() if o.status == "live"),
                    "position": _s(st.position),
                    "exchange_position": _s(self.exchange_position),
                    "pnl": self.pnl(),
                    "fills": st.fills_applied,
                    "orders_sent": self.executor.sent,
                }
            )
        return data
