"""The grid strategy: from prices, fills and order outcomes to orders to place and cancel. Pure.

`GridStrategy` mutates a `GridState` and answers with `Place` / `Cancel` actions. The runner
saves the state (with every new intent in it) *before* it sends anything, and reports each
outcome back through `on_placed`, `on_rejected`, `on_gone` and `on_fill`.

Rules it keeps: a slot has at most one order; every unit of the position has a closing leg
(inventory closes cover what the levels do not); closing legs need the position they close (perp
closes are reduce-only, always); opening legs pass the `max_position` gate counting open opening
orders; a leg is placed on its side of the book's top: an opening leg the market went through
waits, a closing leg goes to the book's top; profit is realized by FIFO on every reducing fill.
"""

from __future__ import annotations

from decimal import Decimal

from gridkeeper.bot.core import (
    Action,
    BotEvent,
    Cancel,
    MarketSpec,
    Place,
    build_grid,
)
from gridkeeper.bot.grid import GridError
from gridkeeper.bot.invariant import exit_gaps
from gridkeeper.bot.layout import allocated_inventory, lay_out
from gridkeeper.bot.limits import limit_hit, limit_trigger, watched
from gridkeeper.bot.params import StrategyConfig
from gridkeeper.bot.ranges import GridRanges, PositionChoice
from gridkeeper.bot.state import ZERO, GridState, Lot

__all__ = ["Action", "BotEvent", "Cancel", "GridStrategy", "MarketSpec", "Place", "PositionChoice"]


class GridStrategy(GridRanges):
    """The grid bot's decisions: a GridCore that also reacts to prices and range changes."""

    @classmethod
    def fresh(
        cls,
        instance: str,
        config: StrategyConfig,
        market: MarketSpec,
        price: Decimal,
        inventory: Decimal = ZERO,
    ) -> GridStrategy:
        """A new grid at `price`. Spot: `inventory` is the base balance the grid may sell."""
        grid = build_grid(
            config, market, config.grid_lower_price, config.grid_upper_price, config.grid_num
        )
        slots = lay_out(
            grid, price, config.grid_type, inventory if market.spot else ZERO, spot=market.spot
        )
        held = allocated_inventory(slots, grid.quantity)
        state = GridState(
            lower=config.grid_lower_price,
            upper=config.grid_upper_price,
            num=config.grid_num,
            slots=slots,
            position=held,
            position0=held,
            value0=held * price,
            last_price=price,
            lots=[Lot(held, held * price)] if held else [],
        )
        return cls(instance, config, market, state)

    # ---- price and risk -----------------------------------------------------------------
    def on_price(
        self,
        price: Decimal,
        now_ms: int,
        *,
        bid: Decimal | None = None,
        ask: Decimal | None = None,
    ) -> list[Action]:
        """A new last price (marks PnL) and, when known, the book's top (places legs)."""
        st = self.state
        st.last_price = price
        self.bid, self.ask = bid, ask
        if st.status == "running":
            self._check_risk(price)
        elif (
            st.status == "paused"
            # Every pause that holds the position is watched (limits.watched): the price may
            # run away while the grid does not trade. A boundary pause also resumes once the
            # price is back in range.
            and not self._check_limits(price)
            and st.auto_resume
            and st.lower <= price <= st.upper
        ):
            self.resume("price back in range")
        return self.plan(now_ms)

    def decision_due(self, price: Decimal) -> bool:
        """Whether `on_price(price)` would change the grid's status (a stop-loss, take-profit,
        boundary action or auto-resume fires). Changes nothing: the runner reads every fill
        over REST first when it is due, so such a decision never rests on a position that is
        missing fills the order stream has not delivered yet."""
        st = self.state
        if st.status == "running":
            return self._limit_hit(price) is not None or (
                self.config.enable_boundary_check and self._outside(price)
            )
        return st.status == "paused" and (
            self._limit_hit(price) is not None or (st.auto_resume and st.lower <= price <= st.upper)
        )

    def _outside(self, price: Decimal) -> bool:
        tol, st = self.config.boundary_tolerance, self.state
        return price > st.upper * (1 + tol) or price < st.lower * (1 - tol)

    def limits_watched(self) -> bool:
        """Whether stop_loss / take_profit may fire in the grid's state (limits.watched)."""
        return watched(self.state)

    def _limit_hit(self, price: Decimal) -> tuple[str, str] | None:
        """(action, reason) of the limit total PnL at `price` hits, where limits are watched."""
        if not watched(self.state):
            return None
        return limit_hit(self.config, self.state, price)

    def _check_limits(self, price: Decimal) -> bool:
        """stop_loss / take_profit on total PnL at `price`; True when one fired."""
        hit = self._limit_hit(price)
        if hit is None:
            return False
        self.trigger(limit_trigger(hit[0]), hit[1])
        return True

    def _check_risk(self, price: Decimal) -> None:
        cfg, st = self.config, self.state
        if self._check_limits(price):
            return
        tol = cfg.boundary_tolerance
        if self._outside(price) and cfg.enable_boundary_check:
            self.trigger(
                cfg.boundary_action,
                f"price {price} left the range {st.lower}-{st.upper} by more than {tol * 100}%",
                boundary=True,
            )

    def trigger(self, action: str, reason: str, *, boundary: bool = False) -> None:
        st = self.state
        self.emit(
            "boundary_action",
            f"{action}: {reason}",
            action=action,
            reason=reason,
            total_pnl=str(st.total_pnl()),
            position=str(st.position),
        )
        if action == "adjust_range":
            try:
                self.recentre(position="keep")
                return
            except GridError as exc:
                reason = f"{reason}; re-centring failed ({exc}), paused"
                action = "pause"
        st.reason, st.keep_exits, st.keep_orders = reason, False, False
        if action == "pause":
            st.status, st.auto_resume = "paused", boundary
        else:
            st.status, st.auto_resume = "stopped", False
            st.closing = action == "emergency_close"

    def pause(self, reason: str, *, keep_exits: bool = False) -> bool:
        """Stop trading; `keep_exits` leaves the closing orders resting (only openings go)."""
        if self.state.status != "running":
            return False
        self.state.status, self.state.reason, self.state.auto_resume = "paused", reason, False
        self.state.keep_exits, self.state.keep_orders = keep_exits, False
        self.emit("paused", reason, reason=reason)
        return True

    def stop(self, reason: str, *, keep_orders: bool = False, flatten: bool = False) -> bool:
        """Stop trading. `keep_orders` leaves every order resting (the operator stops the
        process and the orders keep working); `flatten` cancels them, then closes the position
        at market (reduce-only on perps), as emergency_close does."""
        st = self.state
        changed = st.status != "stopped" or st.keep_orders != keep_orders or flatten
        if not changed:
            return False
        st.status, st.reason, st.auto_resume = "stopped", reason, False
        st.keep_exits, st.keep_orders = False, keep_orders and not flatten
        if flatten and self.flatten_quantity() != 0:
            st.closing = True
        self.emit("stopped", reason, reason=reason, keep_orders=st.keep_orders, flatten=flatten)
        return True

    def flatten_quantity(self) -> Decimal:
        """Signed base quantity a flatten closes: the position (perps); on spot what the grid
        bought beyond the inventory it started with (that inventory is the account's)."""
        return self._close_quantity()

    def resume(self, reason: str = "resumed by operator") -> bool:
        st = self.state
        if st.status == "running" or st.closing:
            return False
        st.status, st.reason, st.auto_resume, st.keep_exits = "running", None, False, False
        st.keep_orders = False
        self.emit("resumed", reason, reason=reason)
        # What the grid holds may have changed while it was not trading (a close, fills in
        # flight): its slots are laid out again from the real position.
        self.rebuild(reason)
        return True

    def check_exits(self, now_ms: int) -> list[Action]:
        """The invariant, after a cycle's orders went out: a position without closing orders
        for longer than a race pauses the grid (closing orders stay) with the reason."""
        st = self.state
        if st.status != "running":
            self.exit_watch.since_ms = None
            return []
        gaps = exit_gaps(st, self.market.min_quantity)
        if not self.exit_watch.overdue(gaps, now_ms):
            return []
        reason = (
            f"invariant_broken: {gaps.describe()} for {self.exit_watch.grace_ms // 1000}s; "
            "check the bot's order_rejected events, then resume (the grid is rebuilt)"
        )
        self.emit(
            "invariant_broken",
            reason,
            position=str(gaps.held),
            resting=str(gaps.resting),
            pending=str(gaps.pending),
            uncovered=str(gaps.uncovered),
        )
        self.pause(reason, keep_exits=True)
        self.exit_watch.since_ms = None
        return self.plan(now_ms)

    def on_close_done(self) -> None:
        self.rebuild("position closed")

    def rebuild(self, reason: str) -> None:
        """Re-lay the grid (same range) from `state.position` at the last price: slots in the
        close phase get exactly the position, orders that still fit are kept, the rest go."""
        if self.state.last_price is None:
            return
        self._relayout(self.grid, position=None, reason=reason)
