"""The grid strategy: from prices, fills and order outcomes to orders to place and cancel. Pure.

`GridStrategy` mutates a `GridState` and answers with `Place` / `Cancel` actions. The runner
saves the state (with every new intent in it) *before* it sends anything, and reports each
outcome back through `on_placed`, `on_rejected`, `on_gone` and `on_fill`.

Rules it keeps: a slot has at most one order; closing legs need the position they close (perp
closes are reduce-only, always); opening legs pass the `max_position` gate counting open opening
orders; no order is placed through the last price (it would take or be refused post-only); profit
is booked when a closing leg completes, net of both legs' fees.
"""

from __future__ import annotations

from decimal import Decimal

from gridkeeper.bot.client_ids import CLOSE_SLOT
from gridkeeper.bot.core import (
    Action,
    BotEvent,
    Cancel,
    GridCore,
    MarketSpec,
    Place,
    build_grid,
)
from gridkeeper.bot.grid import GridError, GridLayout, ceil_to, floor_to
from gridkeeper.bot.layout import allocated_inventory, lay_out, pending_leg
from gridkeeper.bot.state import ZERO, GridState
from gridkeeper.config.strategy import MAX_GRID_NUM, GridStrategyConfig

__all__ = ["Action", "BotEvent", "Cancel", "GridStrategy", "MarketSpec", "Place"]


class GridStrategy(GridCore):
    """The grid bot's decisions: a GridCore that also reacts to prices and range changes."""

    @classmethod
    def fresh(
        cls,
        instance: str,
        config: GridStrategyConfig,
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
        )
        return cls(instance, config, market, state)

    # ---- price and risk -----------------------------------------------------------------
    def on_price(self, price: Decimal, now_ms: int) -> list[Action]:
        st = self.state
        st.last_price = price
        if st.status == "running":
            self._check_risk(price)
        elif st.status == "paused" and st.auto_resume and st.lower <= price <= st.upper:
            self.resume("price back in range")
        return self.plan(now_ms)

    def _check_risk(self, price: Decimal) -> None:
        cfg, st = self.config, self.state
        pnl = st.total_pnl(price)
        if cfg.stop_loss is not None and pnl <= -cfg.stop_loss:
            self.trigger(_pnl_action(cfg), f"stop_loss: total PnL {pnl} <= -{cfg.stop_loss}")
            return
        if cfg.take_profit is not None and pnl >= cfg.take_profit:
            self.trigger(_pnl_action(cfg), f"take_profit: total PnL {pnl} >= {cfg.take_profit}")
            return
        tol = cfg.boundary_tolerance
        if price > st.upper * (1 + tol) or price < st.lower * (1 - tol):
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
                self.recentre()
                return
            except GridError as exc:
                reason = f"{reason}; re-centring failed ({exc}), paused"
                action = "pause"
        st.reason = reason
        if action == "pause":
            st.status, st.auto_resume = "paused", boundary
        else:
            st.status, st.auto_resume = "stopped", False
            st.closing = action == "emergency_close"

    def pause(self, reason: str) -> bool:
        if self.state.status != "running":
            return False
        self.state.status, self.state.reason, self.state.auto_resume = "paused", reason, False
        self.emit("paused", reason, reason=reason)
        return True

    def stop(self, reason: str) -> bool:
        if self.state.status == "stopped":
            return False
        self.state.status, self.state.reason, self.state.auto_resume = "stopped", reason, False
        self.emit("stopped", reason, reason=reason)
        return True

    def resume(self, reason: str = "resumed by operator") -> bool:
        st = self.state
        if st.status == "running" or st.closing:
            return False
        st.status, st.reason, st.auto_resume = "running", None, False
        self.emit("resumed", reason, reason=reason)
        return True

    # ---- range changes ------------------------------------------------------------------
    def recentre(self) -> None:
        st = self.state
        if st.last_price is None:
            raise GridError("no price yet", field="grid_lower_price")
        price, tick = st.last_price, self.market.tick_size
        if self.config.grid_mode == "geometric":
            half = (st.upper / st.lower).sqrt()
            lower, upper = price / half, price * half
        else:
            half_width = (st.upper - st.lower) / 2
            lower, upper = price - half_width, price + half_width
        self.adjust(floor_to(lower, tick), ceil_to(upper, tick), None)

    def check_adjust(
        self, lower: Decimal | None, upper: Decimal | None, num: int | None
    ) -> tuple[Decimal, Decimal, int, GridLayout]:
        """Validate a new range in full; raises GridError naming the field. Changes nothing."""
        st = self.state
        new_lower = st.lower if lower is None else lower
        new_upper = st.upper if upper is None else upper
        new_num = st.num if num is None else num
        if not 2 <= new_num <= MAX_GRID_NUM:
            raise GridError(f"grid_num ({new_num}) must be 2..{MAX_GRID_NUM}", field="grid_num")
        if new_upper <= 0:
            raise GridError(
                f"grid_upper_price ({new_upper}) must be positive", field="grid_upper_price"
            )
        if new_lower <= 0 or new_lower >= new_upper:
            raise GridError(
                f"grid_lower_price ({new_lower}) must be positive and below "
                f"grid_upper_price ({new_upper})",
                field="grid_lower_price",
            )
        if st.last_price is None:
            raise GridError("no market price known yet; try again", field="grid_lower_price")
        return new_lower, new_upper, new_num, self._build(new_lower, new_upper, new_num)

    def adjust(self, lower: Decimal | None, upper: Decimal | None, num: int | None) -> None:
        """Move the grid; orders that fit the new grid are kept, the rest cancelled by plan()."""
        new_lower, new_upper, new_num, grid = self.check_adjust(lower, upper, num)
        st = self.state
        assert st.last_price is not None
        slots = lay_out(
            grid, st.last_price, self.config.grid_type, st.position, spot=self.market.spot
        )
        reusable = {
            (o.side, o.price, o.quantity, o.reduce_only): o
            for o in st.orders.values()
            if o.slot != CLOSE_SLOT and o.status != "gone" and not o.cancel_sent and o.filled == 0
        }
        kept = 0
        for slot in slots:
            side, price, opening = pending_leg(slot)
            reduce_only = not opening and not self.market.spot
            match = reusable.pop((side, price, grid.quantity, reduce_only), None)
            if match is not None:
                match.slot, match.opening, slot.order = slot.index, opening, match.client_id
                kept += 1
        old = (st.lower, st.upper, st.num)
        st.lower, st.upper, st.num, st.slots = new_lower, new_upper, new_num, slots
        self.grid = grid
        self.emit(
            "grid_adjusted",
            f"range {old[0]}-{old[1]} ({old[2]}) -> {new_lower}-"
            f"{new_upper} ({new_num}); {kept} orders kept",
            lower=str(new_lower),
            upper=str(new_upper),
            num=new_num,
            kept=kept,
        )


def _pnl_action(config: GridStrategyConfig) -> str:
    # Re-centring cannot cure a loss or lock in a profit: it stops instead.
    return "stop_only" if config.boundary_action == "adjust_range" else config.boundary_action
