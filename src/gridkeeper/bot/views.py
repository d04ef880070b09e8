"""JSON views of the grid for the control API (decimals as strings, never floats). Pure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gridkeeper.bot.layout import pending_leg
from gridkeeper.bot.params import StrategyConfig
from gridkeeper.bot.state import GridState, TrackedOrder
from gridkeeper.bot.strategy import GridStrategy


def dec_str(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def order_view(o: TrackedOrder) -> dict[str, Any]:
    return {
        "client_id": o.client_id,
        "order_id": o.order_id,
        "slot": o.slot,
        "side": o.side,
        "price": dec_str(o.price),
        "quantity": dec_str(o.quantity),
        "filled": dec_str(o.filled),
        "reduce_only": o.reduce_only,
        "status": o.status,
    }


def pnl_view(st: GridState) -> dict[str, str | None]:
    """Realized grid profit, the inventory's unrealized PnL and fees, kept apart."""
    return {
        "realized_grid_profit": dec_str(st.realized_profit),
        "unrealized_pnl": dec_str(st.unrealized_pnl()),
        "fees": dec_str(st.fees),
        "total_pnl": dec_str(st.total_pnl()),
        "funding": dec_str(st.funding),
    }


def grid_view(
    name: str, symbol: str, config: StrategyConfig, strategy: GridStrategy
) -> dict[str, Any]:
    """`GET /api/grid`: the range, its levels, the orders the bot tracks, and profit."""
    st = strategy.state
    orders = [order_view(o) for o in st.orders.values()]
    levels = [
        {
            "slot": s.index,
            "buy": dec_str(s.buy),
            "sell": dec_str(s.sell),
            "kind": s.kind,
            "phase": s.phase,
            "client_id": s.order,
            "outside_band": strategy.outside_band(pending_leg(s)[1]),
            "inventory": s.inventory,  # a one-off close for position no grid level holds
            "quantity": dec_str(s.size(strategy.grid.quantity)),
        }
        for s in st.slots
    ]
    return {
        "instance": name,
        "symbol": symbol,
        "status": st.status,
        "reason": st.reason,
        # Stopped (or paused) but still flattening the position (a stop-loss `close`,
        # emergency_close): not done until the position is closed.
        "closing": st.closing,
        "grid_lower_price": dec_str(st.lower),
        "grid_upper_price": dec_str(st.upper),
        "grid_num": st.num,
        "grid_mode": config.grid_mode,
        "grid_type": config.grid_type,
        "quantity": dec_str(strategy.grid.quantity),
        "levels": levels,
        "open_orders": orders,
        "last_price": dec_str(st.last_price),
        "mark_price": dec_str(st.mark_price),  # perps: what the position is valued at
        "position": dec_str(st.position),
        "profit": pnl_view(st),
    }
