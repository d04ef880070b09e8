"""The checks `gridkeeper new` makes while it asks: a range from recent prices, the grid's
fit to the market (delegated to the bot's own grid maths), the price band, and the capital the
grid needs against the account's balances. Pure: market data in, numbers and refusals out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from gridkeeper.bot.grid import GridError, GridLayout, build_layout, ceil_to, floor_to
from gridkeeper.bot.layout import is_below
from gridkeeper.exchange.models import Market

GridType = Literal["neutral", "long", "short"]
MIN_HALF_WIDTH = Decimal("0.05")  # a suggested range spans at least +/-5% of the price
ASSUMED_MAKER_FEE = Decimal("0.001")  # fees are private: without keys, assume 0.1% per side


class Refusal(ValueError):
    """An answer the wizard will not write; the message says what to change."""


@dataclass(frozen=True)
class Suggestion:
    lower: Decimal
    upper: Decimal
    low_seen: Decimal | None
    high_seen: Decimal | None


def suggest_range(
    price: Decimal, klines: Sequence[Mapping[str, Any]], market: Market
) -> Suggestion:
    """The range the price actually travelled in the klines, widened to at least +/-5% around
    the current price, kept inside the exchange's price band, on the tick."""
    lows = [Decimal(str(k["low"])) for k in klines if k.get("low") not in (None, "")]
    highs = [Decimal(str(k["high"])) for k in klines if k.get("high") not in (None, "")]
    low_seen, high_seen = (min(lows), max(highs)) if lows and highs else (None, None)
    lower = min(low_seen or price, price * (1 - MIN_HALF_WIDTH))
    upper = max(high_seen or price, price * (1 + MIN_HALF_WIDTH))
    band_low, band_high = market.band(price)
    if band_low is not None:
        lower = max(lower, band_low)
    if band_high is not None:
        upper = min(upper, band_high)
    tick = market.tick_size
    return Suggestion(ceil_to(lower, tick), floor_to(upper, tick), low_seen, high_seen)


def check_band(lower: Decimal, upper: Decimal, market: Market, price: Decimal) -> None:
    """The exchange refuses limit prices outside its band around the last price."""
    if lower >= upper:
        raise Refusal(f"the lower bound ({lower}) must be below the upper bound ({upper})")
    band_low, band_high = market.band(price)
    if band_low is not None and lower < band_low:
        raise Refusal(
            f"{lower} is below {market.symbol}'s price band at {price} (lowest {band_low}): "
            "orders there would be refused"
        )
    if band_high is not None and upper > band_high:
        raise Refusal(
            f"{upper} is above {market.symbol}'s price band at {price} (highest {band_high}): "
            "orders there would be refused"
        )


def layout(
    lower: Decimal,
    upper: Decimal,
    levels: int,
    quantity: Decimal,
    market: Market,
    maker_fee: Decimal,
    mode: Literal["arithmetic", "geometric"] = "arithmetic",
) -> GridLayout:
    """The bot's own rounding and checks (tick, step, minimum, twice the maker fee)."""
    try:
        return build_layout(
            lower=lower,
            upper=upper,
            num=levels,
            mode=mode,
            quantity=quantity,
            tick_size=market.tick_size,
            step_size=market.step_size,
            min_quantity=market.min_quantity,
            maker_fee=maker_fee,
        )
    except GridError as exc:
        raise Refusal(str(exc)) from None


@dataclass(frozen=True)
class Need:
    """One row of the capital table."""

    asset: str
    what: str
    needed: Decimal
    available: Decimal | None

    @property
    def short(self) -> bool:
        return self.available is not None and self.needed > self.available


def capital(
    grid: GridLayout,
    price: Decimal,
    market: Market,
    grid_type: GridType,
    balances: Mapping[str, Decimal] | None,
    initial_margin: Decimal,
) -> list[Need]:
    """What the grid's first orders lock: spot buys below the price need quote and sells above
    need base; a perp grid's opening orders need initial margin in the quote asset."""
    qty = grid.quantity
    below = [s for s in grid.slots if is_below(s, price)]
    above = [s for s in grid.slots if not is_below(s, price)]

    def have(asset: str) -> Decimal | None:
        return None if balances is None else balances.get(asset, Decimal(0))

    quote, base = market.quote_symbol, market.base_symbol
    if market.market_type == "SPOT":
        return [
            Need(
                quote,
                f"{len(below)} buys below {price}",
                sum((s.buy * qty for s in below), Decimal(0)),
                have(quote),
            ),
            Need(base, f"{len(above)} sells above {price}", qty * len(above), have(base)),
        ]
    notional = Decimal(0)
    if grid_type in ("neutral", "long"):
        notional += sum((s.buy * qty for s in below), Decimal(0))
    if grid_type in ("neutral", "short"):
        notional += sum((s.sell * qty for s in above), Decimal(0))
    pct = (initial_margin * 100).normalize()
    what = f"margin at {pct:f}% of {notional} notional ({grid_type})"
    return [Need(quote, what, (notional * initial_margin).quantize(Decimal("0.01")), have(quote))]


def check_capital(needs: Sequence[Need]) -> None:
    short = [n for n in needs if n.short]
    if short:
        parts = "; ".join(f"{n.asset} {n.needed} needed, {n.available} available" for n in short)
        raise Refusal(f"not enough capital: {parts}; use a smaller quantity or fewer levels")
