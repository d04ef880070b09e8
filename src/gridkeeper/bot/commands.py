"""The commands the bot's control API calls: pause / resume / stop, range changes (and their
preview), adopting the exchange's position. Each runs under the runner's lock, saves the state
before any order it implies is sent, and answers with what it did.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from gridkeeper.bot.adopt import adopt_position
from gridkeeper.bot.exchange_reads import ExchangeReads
from gridkeeper.bot.execution import now_ms
from gridkeeper.bot.preview import preview_adjust, warnings_for
from gridkeeper.bot.runner_views import RunnerViews
from gridkeeper.bot.strategy import Cancel, PositionChoice
from gridkeeper.bot.views import dec_str as _s
from gridkeeper.bot.views import order_view


class RunnerCommands(ExchangeReads, RunnerViews):
    """The control API's commands, on the runner's state."""

    async def command(self, name: str, reason: str) -> dict[str, Any]:
        async with self.lock:
            strategy = self.strategy
            commands: dict[str, Callable[[str], bool]] = {
                "pause": strategy.pause,
                "resume": strategy.resume,
                "stop": strategy.stop,
            }
            if name == "resume":
                # The grid is laid out again from its position: on every fill there is, as
                # for an automatic resume (a close's fill may still be a message away).
                await self._catch_up_fills()
            changed = commands[name](reason)
            self._save([])
            await self.executor.run(strategy.plan(now_ms()))
            self._flush_events()
            return {
                "changed": changed,
                "status": strategy.state.status,
                "reason": strategy.state.reason,
            }

    async def stop(
        self, *, cancel_orders: bool, flatten: bool, reason: str = "stop requested over the API"
    ) -> dict[str, Any]:
        """Stop trading and say what was done: without flags every order is left resting;
        `cancel_orders` cancels the grid's orders; `flatten` cancels, then closes the position
        at market (reduce-only on perps) once the cancels are through."""
        async with self.lock:
            strategy, st = self.strategy, self.strategy.state
            changed = strategy.stop(
                reason, keep_orders=not (cancel_orders or flatten), flatten=flatten
            )
            self._save([])
            actions = strategy.plan(now_ms())
            cancelled = [a.client_id for a in actions if isinstance(a, Cancel)]
            by_id = {cid: st.orders[cid] for cid in cancelled if cid in st.orders}
            await self.executor.run(actions)
            self._flush_events()
            self.wake.set()  # the next cycle sees the cancels through and sends the close
            resting = [
                o
                for o in st.orders.values()
                if o.status == "live" and not o.cancel_sent and o.client_id not in by_id
            ]
            closing = st.closing
            close: dict[str, Any] | None = None
            if closing:
                held = strategy.flatten_quantity()
                close = {
                    "side": "Ask" if held > 0 else "Bid",
                    "quantity": _s(abs(held)),
                    "price": None,  # at market
                    "reduce_only": not strategy.market.spot,
                    "status": "after the cancels",
                }
            return {
                "changed": changed,
                "status": st.status,
                "reason": st.reason,
                "cancel_orders": cancel_orders or flatten,
                "flatten": flatten,
                "cancelled": [order_view(o) for o in by_id.values()],
                "left_resting": [order_view(o) for o in resting],
                "position": _s(st.position),
                "closing": closing,
                "close": close,
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
            view = self.grid_view()
            view["warnings"] = warnings_for(strategy)
            return view

    async def preview_adjust(
        self,
        lower: Decimal | None,
        upper: Decimal | None,
        num: int | None,
        *,
        position: PositionChoice = None,
    ) -> dict[str, Any]:
        """What `adjust` would cancel and place (see bot.preview); changes nothing."""
        async with self.lock:
            return preview_adjust(self.strategy, lower, upper, num, position, now_ms())

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
            self._flush_events()  # the report clears the monitor's position_mismatch alert
            view = self.grid_view()
            view["adopted"] = {
                "before": _s(adoption.before),
                "after": _s(adoption.after),
                "mark_price": _s(adoption.mark),
            }
            return view
