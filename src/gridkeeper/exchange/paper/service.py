"""The paper exchange as one object: engine + store + price feed + websocket hub.

Every operation runs on the event loop thread, mutates the engine, commits the changes to SQLite
and only then publishes order updates and answers: what a client was told is always on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from gridkeeper.config.paper_exchange import LiquidityConfig, PaperExchangeConfig, PaperMarket
from gridkeeper.exchange.paper.accounts import Account, admin_token, resolve_accounts
from gridkeeper.exchange.paper.book import BookOrder, MarketSpec
from gridkeeper.exchange.paper.engine import Engine
from gridkeeper.exchange.paper.hub import Hub
from gridkeeper.exchange.paper.liquidity import LiquidityModel
from gridkeeper.exchange.paper.marketdata import PriceHistory
from gridkeeper.exchange.paper.perp_service import Perps
from gridkeeper.exchange.paper.prices import PriceFeed
from gridkeeper.exchange.paper.serialize import order_update_json
from gridkeeper.exchange.paper.store import Store

BPS = Decimal(10000)
T = TypeVar("T")


def market_spec(m: PaperMarket) -> MarketSpec:
    return MarketSpec(
        symbol=m.symbol,
        base=m.base_symbol,
        quote=m.quote_symbol,
        market_type=m.market_type,
        tick_size=m.tick_size,
        step_size=m.step_size,
        min_quantity=m.min_quantity,
        max_quantity=m.max_quantity,
        maker_fee=m.maker_fee_bps / BPS,
        taker_fee=m.taker_fee_bps / BPS,
        min_multiplier=m.min_multiplier,
        max_multiplier=m.max_multiplier,
        initial_margin=m.initial_margin,
    )


def liquidity_model(cfg: LiquidityConfig) -> LiquidityModel | None:
    if not cfg.enabled:
        return None
    return LiquidityModel(
        half_spread_ticks=cfg.half_spread_ticks,
        half_spread_bps=cfg.half_spread_bps,
        levels=cfg.levels,
        level_ticks=cfg.level_ticks,
        depth_per_level=cfg.depth_per_level,
        trade_volume_per_level=cfg.trade_volume_per_level,
    )


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class PaperExchange:
    def __init__(
        self,
        config: PaperExchangeConfig,
        home: Path,
        *,
        config_dir: Path | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.config = config
        self.home = home
        self.clock = clock
        unkind = config.unkind
        self.engine = Engine(
            [market_spec(m) for m in config.markets],
            market_slippage=config.market_slippage_bps / BPS,
            liquidity=liquidity_model(unkind.liquidity),
            self_trade_prevention=unkind.self_trade_prevention,
            reduce_only_modify=unkind.reduce_only_modify,
            cancel_delay_ms=unkind.cancel_delay_ms,
        )
        self.accounts: list[Account] = resolve_accounts(config, home)
        self.keys = {a.api_key: a.name for a in self.accounts}
        self.admin_token = admin_token(home)
        self.store = Store(
            home / "paper" / "exchange.db", history_delay_ms=unkind.history_delay_ms, clock=clock
        )
        self.hub = Hub()
        self.stats: Counter[str] = Counter()  # unkind behaviours that fired (GET /_paper/stats)
        self.history = PriceHistory()
        self.feed = PriceFeed(config.price_source, config_dir or Path.cwd())
        self._ticker: asyncio.Task[None] | None = None
        self._funding: asyncio.Task[None] | None = None
        self._start()
        self.perps = Perps(self.engine, config.perps, self.store.db, clock)

    def _start(self) -> None:
        self.store.load_into(self.engine)
        for account in self.accounts:
            self.engine.ensure_account(account.api_key, account.balances)
        now = self.clock()
        for m in self.config.markets:
            if m.symbol not in self.engine.prices:
                self.engine.set_price(m.symbol, m.initial_price, now)
            self.history.add(m.symbol, now, self.engine.prices[m.symbol])
        if self.engine.pending_cancels:
            self.engine.complete_due(now)  # cancels accepted before a restart and now due
        self.commit()

    def commit(self) -> None:
        """Persist what changed, then publish the order updates (in that order)."""
        changes = self.engine.drain()
        self.store.apply(self.engine, changes)
        for kind, order, account, fill in changes.events:
            self.hub.publish(account, order.symbol, order_update_json(kind, order, fill))

    def run(self, operation: Callable[[int], T]) -> T:
        """Apply one engine operation atomically: on a rejection nothing it did is kept."""
        now = self.clock()
        if self.engine.pending_cancels:
            self.engine.complete_due(now)  # accepted cancels happen before anything later
        try:
            result = operation(now)
        except Exception:
            # Rejections raise before mutating; still commit any earlier pending changes.
            self.commit()
            raise
        self.commit()
        return result

    def cancel(
        self, account: str, symbol: str, order_id: str | None, client_id: int | None
    ) -> BookOrder | None:
        """Cancel an order; None when a cancel delay is configured (answer 202, done later)."""
        engine = self.engine
        order = self.run(
            lambda now: engine.request_cancel(account, symbol, order_id, client_id, now)
        )
        if order is None:
            delay_s = engine.cancel_delay_ms / 1000
            asyncio.get_running_loop().call_later(delay_s, self._complete_cancels)
        return order

    def _complete_cancels(self) -> None:
        if self.engine.pending_cancels and not self.store.closed:
            self.run(self.engine.complete_due)

    def set_price(self, symbol: str, price: Decimal) -> int:
        now = self.clock()
        if self.engine.pending_cancels:
            self.engine.complete_due(now)
        fills = self.engine.set_price(symbol, price, now)
        self.perps.on_price(symbol, now)
        self.history.add(symbol, now, price)
        self.commit()
        return fills

    async def tick(self) -> None:
        """Move every market one step along the price source."""
        for spec in self.engine.markets.values():
            step = self.store.steps.get(spec.symbol, 0)
            current = self.engine.prices[spec.symbol]
            price = await self.feed.next_price(spec, current, step)
            self.store.steps[spec.symbol] = step + 1
            if price is not None:
                self.set_price(spec.symbol, price)

    def mark_price(self, symbol: str) -> Decimal:
        return self.engine.mark_price(symbol)

    async def start_ticker(self) -> None:
        if self.engine.pending_cancels:
            # Cancels accepted (202) before a restart and not due yet: finish each on time.
            loop, now = asyncio.get_running_loop(), self.clock()
            for due in sorted(set(self.engine.pending_cancels.values())):
                loop.call_later(max(due - now, 0) / 1000, self._complete_cancels)
        if self.config.price_source.kind != "manual":
            self._ticker = asyncio.create_task(self._tick_forever())
        if self.config.perps.funding:
            self._funding = asyncio.create_task(self.perps.run_funding(self.commit))

    async def _tick_forever(self) -> None:
        while True:
            # Every market advances one step per tick; a replay waits the recorded gap.
            await asyncio.sleep(self.feed.delay_s(max(self.store.steps.values(), default=0)))
            await self.tick()

    async def aclose(self) -> None:
        for task in (self._ticker, self._funding):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.hub.drop_all()
        await self.feed.aclose()
        self.store.close()

    def account_summary(self) -> dict[str, Any]:
        def fee(kind: str, attr: str) -> str:
            for spec in self.engine.markets.values():
                if spec.market_type == kind:
                    return format((getattr(spec, attr) * BPS).normalize(), "f")
            return "0"

        return {
            "autoBorrowSettlements": False,
            "autoLend": False,
            "autoRealizePnl": True,
            "autoRepayBorrows": False,
            "borrowLimit": "0",
            "futuresMakerFee": fee("PERP", "maker_fee"),
            "futuresTakerFee": fee("PERP", "taker_fee"),
            "leverageLimit": "10",
            "limitOrders": 0,
            "liquidating": False,
            "positionLimit": "1000000",
            "spotMakerFee": fee("SPOT", "maker_fee"),
            "spotTakerFee": fee("SPOT", "taker_fee"),
            "triggerOrders": 0,
        }
