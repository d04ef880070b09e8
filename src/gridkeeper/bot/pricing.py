"""Where a leg may rest: the book's top and the exchange's price band. Pure functions.

`bid` / `ask` are the book's top as last read (None: unknown) and `last` the last trade price;
when the book is unknown the last price stands in for it.
"""

from __future__ import annotations

from decimal import Decimal

from gridkeeper.bot.actions import MarketSpec
from gridkeeper.bot.grid import ceil_to, floor_to
from gridkeeper.bot.params import StrategyConfig
from gridkeeper.bot.state import ZERO


def can_rest(
    side: str, price: Decimal, *, bid: Decimal | None, ask: Decimal | None, last: Decimal | None
) -> bool:
    """Would a post-only order at `price` rest? Decided against the book's top when known
    (a buy at or below the best bid, a sell at or above the best ask), else the last price."""
    if side == "Bid":
        if bid is not None:
            return price <= bid
        if ask is not None:
            return price < ask
        return last is not None and price < last
    if ask is not None:
        return price >= ask
    if bid is not None:
        return price > bid
    return last is not None and price > last


def touch(
    side: str, *, bid: Decimal | None, ask: Decimal | None, last: Decimal | None, tick: Decimal
) -> Decimal:
    """The best price on `side` of the book that rests post-only: the best bid for a buy,
    the best ask for a sell (one tick off the last price when the book is unknown)."""
    last = last or ZERO
    if side == "Bid":
        if bid is not None:
            return bid
        if ask is not None:
            return ask - tick
        return ceil_to(last, tick) - tick
    if ask is not None:
        return ask
    if bid is not None:
        return bid + tick
    return floor_to(last, tick) + tick


def through_market(
    side: str,
    config: StrategyConfig,
    *,
    bid: Decimal | None,
    ask: Decimal | None,
    last: Decimal | None,
    tick: Decimal,
) -> tuple[Decimal, bool]:
    """(price, post_only) of a closing leg whose level the market has gone through."""
    if config.through_market_close == "maker":
        return touch(side, bid=bid, ask=ask, last=last, tick=tick), True
    # A bounded taker: a limit at most max_slippage beyond the far touch; what the book
    # cannot fill at that price rests there as the exit.
    if side == "Ask":
        ref = bid if bid is not None else last or ZERO
        return max(tick, ceil_to(ref * (1 - config.close_max_slippage), tick)), False
    ref = ask if ask is not None else last or ZERO
    return floor_to(ref * (1 + config.close_max_slippage), tick), False


def outside_band(price: Decimal, last: Decimal | None, market: MarketSpec) -> bool:
    """True when the exchange's price band at the last price refuses a limit at `price`."""
    if last is None:
        return False
    if market.band_min is not None and price < last * market.band_min:
        return True
    return market.band_max is not None and price > last * market.band_max


def band_edge(price: Decimal, last: Decimal | None, market: MarketSpec) -> Decimal:
    """The nearest price to `price` that the band at the last price accepts."""
    last, tick = last or ZERO, market.tick_size
    if market.band_max is not None and price > last * market.band_max:
        return floor_to(last * market.band_max, tick)
    if market.band_min is not None and price < last * market.band_min:
        return ceil_to(last * market.band_min, tick)
    return price
