"""The grid's position against the exchange's own figure, and funding (issue 9, defect 5).

Every full reconcile compares the two; a gap that lasts pauses the grid, and the grid report
makes that the monitor's `position_mismatch` alert (`grid adopt` accepts the exchange's figure:
`BotRunner.adopt`). Perp funding payments are booked into the grid's cash once each, from a
saved checkpoint.
"""

from __future__ import annotations

import time
from decimal import Decimal

from gridkeeper.bot.adopt import MISMATCH
from gridkeeper.bot.reconcile import apply_funding, mismatch_reason, position_gap
from gridkeeper.bot.runner_base import RunnerBase
from gridkeeper.exchange.errors import ExchangeError

FUNDING_PAGE = 100
# A position gap must last this long (and two full reconciles) before it pauses the grid: fill
# history may lag the position by a few seconds, and a lagging fill is not a mismatch.
MISMATCH_CONFIRM_S = 10.0


class PositionCheck(RunnerBase):
    """Pauses the grid on a confirmed position gap; books funding."""

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
        # The monitor's position_mismatch alert follows from the grid report (the pause's
        # reason), written when this cycle's events are flushed.

    async def _book_funding(self) -> None:
        """Apply new funding payments of the symbol to the grid's cash (perps only)."""
        st = self.strategy.state
        if self.strategy.market.spot:
            return
        payments = []
        offset = 0
        while True:  # newest first: page back until the checkpoint is reached
            try:
                page = await self._call(
                    self.client.get_funding_payments(
                        self.spec.symbol, limit=FUNDING_PAGE, offset=offset
                    )
                )
            except ExchangeError as exc:
                # Bookkeeping: the checkpoint stays, so the next reconcile books them. Failing
                # the reconcile here failed every one after it (each loop retries a due one)
                # and froze trading, closes and limits included, while the endpoint failed.
                self._emit("exchange_error", f"funding not read ({exc}); booked next reconcile")
                return
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
