"""What a grid ties up at its start: the quote its first buys need, and the capital a backtest
reports its return on. Pure.

Apart from the simulator: the start check ("insufficient funds") and the report's denominator
are figures of the grid, not steps of the simulated loop.
"""

from __future__ import annotations

from decimal import Decimal

from gridkeeper.backtest.model import ZERO
from gridkeeper.bot.layout import pending_leg
from gridkeeper.bot.strategy import GridStrategy


def quote_need(strategy: GridStrategy, price: Decimal) -> Decimal:
    """Spot: the quote the buys below `price` tie up once they rest."""
    qty = strategy.grid.quantity
    return sum(
        (s.buy * qty for s in strategy.state.slots if pending_leg(s)[0] == "Bid" and s.buy < price),
        ZERO,
    )


def grid_capital(strategy: GridStrategy, price: Decimal, initial_margin: Decimal) -> Decimal:
    """What the grid ties up: spot, the buys below the price plus the inventory at the price;
    perp, the initial margin of every level filled at once (the largest exposure)."""
    st = strategy.state
    if strategy.market.spot:
        return quote_need(strategy, price) + st.position * price
    qty = strategy.grid.quantity
    notional = sum((max(s.buy, s.sell) * qty for s in st.slots), ZERO)
    return notional * initial_margin
