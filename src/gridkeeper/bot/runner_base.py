"""What every part of the bot process shares: its spec, attributes, and exchange plumbing.

`RunnerBase` holds the runner's state (strategy, executor, the lock, health figures, the
position check's memory) and the small helpers every part uses: `_call` (refused keys are
fatal), saving, and passing events on. `runner.BotRunner` joins it with the exchange reads,
the position check and the views.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from gridkeeper.bot.errors import BotFatal
from gridkeeper.bot.execution import Executor
from gridkeeper.bot.params import StrategyConfig as GridStrategyConfig
from gridkeeper.bot.report import Reporter
from gridkeeper.bot.state import TrackedOrder
from gridkeeper.bot.store import Store
from gridkeeper.bot.strategy import GridStrategy
from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.errors import AuthError, ExchangeError
from gridkeeper.exchange.market_stream import MarketView
from gridkeeper.exchange.models import Fill


@dataclass(frozen=True)
class BotSpec:
    """Everything the runner needs from the instance config."""

    name: str
    home: Path
    symbol: str
    strategy_kind: str  # "grid" (spot) or "perp_grid"
    config: GridStrategyConfig


class RunnerBase:
    """The runner's state and the helpers its parts share."""

    def __init__(
        self,
        spec: BotSpec,
        client: BackpackClient,
        store: Store,
        *,
        on_event: Callable[[str, str, dict[str, Any]], None],
        updates: Callable[[Callable[[], None]], AsyncIterable[object]] | None = None,
        market: MarketView | None = None,
    ) -> None:
        self.spec = spec
        self.client = client
        self.store = store
        self.on_event = on_event
        self.updates = updates
        self.market = market  # streamed price and book top (market_stream), when it runs
        self.order_stream: AsyncIterable[object] | None = None
        self.lock = asyncio.Lock()
        self.wake = asyncio.Event()
        self.started_at = time.time()
        self.last_loop_at: float | None = None
        self.latency_s: float | None = None
        self.exchange_error: str | None = None
        self.need_reconcile = True
        self._last_reconcile = 0.0
        self._reconcile_failed = False  # the last full reconcile failed: a light cycle is next
        self._strategy: GridStrategy | None = None
        self._executor: Executor | None = None
        self.exchange_position: Decimal | None = None  # last figure read in a full reconcile
        self._last_gap: Decimal | None = None  # the gap seen in the last full reconcile
        self._gap_since = 0.0  # monotonic time that gap was first seen
        # Spot: the (base, quote) available balances read with the position (full reconciles).
        self.balances: tuple[Decimal, Decimal] | None = None
        # The trading report the monitor's grid alerts read (gridkeeper.gridreport).
        self.reporter = Reporter(
            spec.home, on_error=lambda message: self._emit("report_failed", message)
        )
        # The hot path (fast_fill): fills the order stream reported, not applied yet; whether
        # the next cycle must read fills over REST; applied fills the next save must include.
        self.stream_fills: list[Fill] = []
        self.fills_due = True
        self.unsaved_fills: list[Fill] = []

    # ---- set by start() -----------------------------------------------------------------
    @property
    def strategy(self) -> GridStrategy:
        assert self._strategy is not None, "start() first"
        return self._strategy

    @property
    def executor(self) -> Executor:
        assert self._executor is not None, "start() first"
        return self._executor

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except AuthError as exc:
            raise BotFatal(f"the exchange refused our keys: {exc}") from exc

    def _exchange_failed(self, exc: ExchangeError) -> None:
        self.exchange_error = str(exc)
        self._emit("exchange_error", str(exc), code=exc.code)
        self._flush_events()

    def _seen(self, fills: list[Fill]) -> set[str]:
        """Trade ids among `fills` already applied: saved, or applied and not saved yet (a read
        that failed mid-cycle leaves them unsaved; they must not be applied twice)."""
        seen = self.store.seen(f.trade_id for f in fills)
        seen.update(f.trade_id for f in self.unsaved_fills)
        return seen

    def _save(self, intents: list[TrackedOrder], fills: list[Fill] | None = None) -> None:
        if self._strategy is not None:
            applied = [*self.unsaved_fills, *(fills or [])]
            self.store.save(self._strategy.state, intents=intents, fills=applied)
            self.unsaved_fills = []

    def _emit(self, kind: str, message: str, **data: Any) -> None:
        self.on_event(kind, message, data)

    def _flush_events(self) -> None:
        if self._strategy is None:
            return
        for event in self._strategy.drain_events():
            if event.kind == "order_rejected":
                self.reporter.rejected()
            self.on_event(event.kind, event.message, event.data)
        self.reporter.write_if_due(
            self._strategy,
            instance=self.spec.name,
            symbol=self.spec.symbol,
            exchange_position=self.exchange_position,
            balances=self.balances,
        )
