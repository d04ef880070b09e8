"""The grid's trading report for the monitor (see `gridkeeper.gridreport`). Pure but `Reporter`.

The bot says what it knows (state, reason, price against the range, last fill, PnL, balances,
recent rejects); the monitor's rules decide what is alarming. `Reporter` decides when a write is
worth it: at once when the state or reason changed or an order was rejected, else at most every
REPORT_EVERY_S, so a fast poll loop does not rewrite the file five times a second.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from gridkeeper.bot.adopt import MISMATCH
from gridkeeper.bot.state import INVENTORY_SLOT_BASE, ZERO
from gridkeeper.bot.strategy import GridStrategy
from gridkeeper.gridreport import GridReport, write_report

REPORT_EVERY_S = 5.0
REJECTS_KEPT = 200  # the newest reject times carried in the report (the monitor counts a window)


def reason_kind(reason: str | None) -> str | None:
    """Classify the bot's own pause/stop reason text (strategy.trigger, position_check,
    check_exits write these prefixes); anything else came from an operator's command."""
    if not reason:
        return None
    if reason.startswith("stop_loss"):
        return "stop_loss"
    if reason.startswith("take_profit"):
        return "take_profit"
    if reason.startswith(MISMATCH):
        return "position_mismatch"
    if reason.startswith("invariant_broken"):
        return "invariant"
    if reason.startswith("price ") and " left the range " in reason:
        return "boundary"
    return "operator"


def grid_capital(strategy: GridStrategy) -> Decimal:
    """The grid's notional: every grid level bought at its size (inventory closes excluded)."""
    qty = strategy.grid.quantity
    return sum(
        (s.buy * s.size(qty) for s in strategy.state.slots if s.index < INVENTORY_SLOT_BASE), ZERO
    )


def build_report(
    strategy: GridStrategy,
    *,
    instance: str,
    symbol: str,
    now: float,
    exchange_position: Decimal | None,
    balances: tuple[Decimal, Decimal] | None,
    trading_since: float | None,
    reject_times: tuple[float, ...],
) -> GridReport:
    st = strategy.state
    running = st.status == "running"
    return GridReport(
        instance=instance,
        symbol=symbol,
        written_at=now,
        status=st.status,
        reason=None if running else st.reason,
        reason_kind=None if running else reason_kind(st.reason) or "operator",
        closing=st.closing,
        price=st.last_price,
        lower=st.lower,
        upper=st.upper,
        position=st.position,
        exchange_position=exchange_position,
        total_pnl=st.total_pnl(),
        capital=grid_capital(strategy),
        base=strategy.market.base,
        quote=strategy.market.quote,
        base_available=balances[0] if balances else None,
        quote_available=balances[1] if balances else None,
        fills=st.fills_applied,
        last_fill_at=st.checkpoint_ms / 1000 if st.fills_applied else None,
        trading_since=trading_since,
        reject_times=reject_times,
        pid=os.getpid(),
    )


class Reporter:
    """Writes the report when it changed in a way that matters, or when it is due."""

    def __init__(
        self,
        home: Path,
        *,
        clock: Callable[[], float] = time.time,
        on_error: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.home = home
        self.clock = clock
        self.on_error = on_error
        self.rejects: deque[float] = deque(maxlen=REJECTS_KEPT)
        # Every order the exchange refused since start: /health/detailed's orders_rejected
        # (the monitor's rejects counter); `rejects` keeps the recent times for the alert.
        self.rejected_total = 0
        self.trading_since: float | None = None
        self._last: tuple[str, str | None] | None = None
        self._written_at = 0.0
        self._dirty = True
        self._failing = False

    def rejected(self) -> None:
        self.rejected_total += 1
        self.rejects.append(self.clock())
        self._dirty = True

    def write_if_due(
        self,
        strategy: GridStrategy,
        *,
        instance: str,
        symbol: str,
        exchange_position: Decimal | None,
        balances: tuple[Decimal, Decimal] | None,
    ) -> bool:
        """Write the report when due; True when written. A failed write is reported once per
        failing streak and never raised: trading does not depend on the report."""
        now = self.clock()
        st = strategy.state
        key = (st.status, st.reason)
        if key != self._last:
            if st.status == "running" and (self._last is None or self._last[0] != "running"):
                self.trading_since = now
            self._last, self._dirty = key, True
        if not self._dirty and now - self._written_at < REPORT_EVERY_S:
            return False
        report = build_report(
            strategy,
            instance=instance,
            symbol=symbol,
            now=now,
            exchange_position=exchange_position,
            balances=balances,
            trading_since=self.trading_since,
            reject_times=tuple(self.rejects),
        )
        try:
            write_report(self.home, report)
        except (OSError, ValueError) as exc:
            if not self._failing:
                self.on_error(f"could not write the grid report for the monitor: {exc}")
            self._failing = True
            return False
        self._failing = False
        self._written_at, self._dirty = now, False
        return True
