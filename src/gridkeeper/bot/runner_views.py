"""The runner's views for the control API: health, the grid, PnL, the detailed status."""

from __future__ import annotations

import time
from typing import Any

from gridkeeper.bot.runner_base import RunnerBase
from gridkeeper.bot.views import dec_str as _s
from gridkeeper.bot.views import grid_view, pnl_view


class RunnerViews(RunnerBase):
    """Read-only answers about the running bot."""

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
                    "closing": st.closing,  # still flattening the position (not yet flat)
                    # Whether stop_loss / take_profit may fire now: running or in a pause that
                    # holds the position; not once stopped, nor in a position_mismatch pause.
                    "limits_watched": self._strategy.limits_watched(),
                    "symbol": self.spec.symbol,
                    "open_orders": sum(1 for o in st.orders.values() if o.status == "live"),
                    "position": _s(st.position),
                    "exchange_position": _s(self.exchange_position),
                    "pnl": self.pnl(),
                    "fills": st.fills_applied,
                    "orders_sent": self.executor.sent,
                    "orders_rejected": self.reporter.rejected_total,
                }
            )
        return data
