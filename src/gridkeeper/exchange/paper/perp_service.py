"""Perpetuals in a running paper exchange: marks on every price, funding on a timer, liquidations.

The owner (`PaperExchange`) calls `on_price` after each price update and runs `run_funding` as a
task; both leave engine changes pending for the owner's next commit (which persists them, funding
ledger rows and the balances they pay in one transaction, and publishes the order updates of any
liquidation).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable

from gridkeeper.config.paper_exchange import PerpSettings
from gridkeeper.exchange.paper import perp
from gridkeeper.exchange.paper.engine import Engine
from gridkeeper.exchange.paper.perp_ledger import FundingLedger

log = logging.getLogger(__name__)


class Perps:
    def __init__(
        self,
        engine: Engine,
        settings: PerpSettings,
        db: sqlite3.Connection,
        clock: Callable[[], int],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.ledger = FundingLedger(db)
        for key, total in self.ledger.cumulative().items():
            pos = engine.positions.get(key)
            if pos is not None:
                pos.cumulative_funding = total
        for symbol in engine.markets:
            perp.update_mark(engine, settings, symbol)  # the mark restarts from the last price
        # Intervals already settled are never paid again; a first start pays from the next end.
        last = self.ledger.last_interval_end()
        self.settled_ms = last if last is not None else self._current_end(clock()) - self._width

    @property
    def _width(self) -> int:
        return self.settings.funding_interval_s * 1000

    def _current_end(self, now_ms: int) -> int:
        return perp.interval_end_ms(now_ms, self.settings.funding_interval_s)

    def next_funding_ms(self) -> int:
        """When the current interval's payments are made (`nextFundingTimestamp`)."""
        return self._current_end(self.clock())

    def on_price(self, symbol: str, now_ms: int) -> None:
        """After a price update: move the mark, then liquidate whoever it put underwater."""
        perp.update_mark(self.engine, self.settings, symbol)
        if self.settings.liquidation and self.engine.markets[symbol].is_perp:
            self.check_liquidations(now_ms)

    def check_liquidations(self, now_ms: int) -> None:
        for account in perp.underwater(self.engine, self.settings):
            log.warning("paper exchange: liquidating account %s below maintenance", account)
            perp.liquidate(self.engine, account, now_ms)

    def settle_due(self, now_ms: int) -> bool:
        """Pay the latest interval that has ended and is not settled yet. True if one was paid.

        After downtime spanning several intervals only the latest is paid (prices in between
        are unknown)."""
        if not self.settings.funding:
            return False
        end = self._current_end(now_ms) - self._width
        if end <= self.settled_ms:
            return False
        # The ledger rows ride in the engine's changes: the owner's commit writes them in the
        # transaction that writes the balances they paid (a crash before it loses both).
        perp.pay_funding(self.engine, self.settings, end)
        self.settled_ms = end
        if self.settings.liquidation:
            self.check_liquidations(now_ms)
        return True

    async def run_funding(self, commit: Callable[[], None]) -> None:
        """Settle each interval as it ends, forever (cancel the task to stop)."""
        while True:
            delay_ms = self.next_funding_ms() - self.clock()
            await asyncio.sleep(max(delay_ms, 0) / 1000 + 0.001)
            if self.settle_due(self.clock()):
                commit()
