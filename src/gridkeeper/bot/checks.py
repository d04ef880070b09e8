"""`config check` against the market: what the exchange's rules will do to a grid config. Pure.

Two things only the market knows: its price band at the current price (levels outside it would
be refused, so the bot leaves them waiting) and its quantity step (an order_quantity off the step
is rounded down, silently trading less than configured).
"""

from __future__ import annotations

from decimal import Decimal

from gridkeeper.bot.grid import floor_to
from gridkeeper.bot.params import StrategyConfig
from gridkeeper.exchange.models import Market


def market_warnings(config: StrategyConfig, market: Market, price: Decimal) -> list[str]:
    found = []
    low, high = market.band(price)
    outside = []
    if low is not None and config.grid_lower_price < low:
        outside.append(f"grid_lower_price {config.grid_lower_price} is below {low}")
    if high is not None and config.grid_upper_price > high:
        outside.append(f"grid_upper_price {config.grid_upper_price} is above {high}")
    if outside:
        found.append(
            f"strategy_config: the range exceeds {market.symbol}'s price band at the current "
            f"price {price} ({low} - {high}): {'; '.join(outside)}. Levels outside the band wait "
            "(no order) until the price comes near them"
        )
    if config.order_quantity is None:
        return found  # derived at start, on the step
    qty = floor_to(config.order_quantity, market.step_size)
    if qty != config.order_quantity:
        found.append(
            f"strategy_config.order_quantity: {config.order_quantity} is rounded down to {qty} "
            f"by {market.symbol}'s step {market.step_size}; every order trades {qty}"
        )
    return found
