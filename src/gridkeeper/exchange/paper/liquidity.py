"""The liquidity model: a synthetic order book with a spread and finite depth around the price.

Pure functions of (market, last price, model). The book is regenerated around each new last price;
what takers consumed since the last price move is passed in as `taken` (price -> quantity), so
splitting a large order into small ones does not find fresh depth at the same price.
Without a model (None) the book is today's kind one: 20 levels of 10 at one-tick steps for the
depth endpoint, and unlimited size at the last price for matching (the engine's own path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from gridkeeper.exchange.paper.book import ZERO, MarketSpec

__all__ = ["Level", "LiquidityModel", "best_bid_ask", "book_levels", "walk"]

Level = tuple[Decimal, Decimal]  # (price, quantity)
BPS = Decimal(10000)
KIND_LEVELS = 20
KIND_DEPTH = Decimal(10)


@dataclass(frozen=True, slots=True)
class LiquidityModel:
    half_spread_ticks: int = 1
    half_spread_bps: Decimal = ZERO
    levels: int = 20
    level_ticks: int = 1
    depth_per_level: Decimal = Decimal(10)
    trade_volume_per_level: Decimal | None = None  # resting fills per level per update


def _to_tick(price: Decimal, tick: Decimal, rounding: str) -> Decimal:
    return (price / tick).quantize(Decimal(1), rounding) * tick


def best_bid_ask(spec: MarketSpec, last: Decimal, model: LiquidityModel) -> tuple[Decimal, Decimal]:
    """Best bid and ask: the wider of the tick and bps half-spreads, on the tick grid."""
    tick = spec.tick_size
    half = max(tick * model.half_spread_ticks, last * model.half_spread_bps / BPS)
    bid = min(_to_tick(last - half, tick, ROUND_FLOOR), last - tick)
    ask = max(_to_tick(last + half, tick, ROUND_CEILING), last + tick)
    return max(bid, tick), ask


def _side_levels(
    spec: MarketSpec, last: Decimal, model: LiquidityModel, side: str, count: int
) -> list[Level]:
    """Levels of one side ("Bid" or "Ask"), best first, before anything was taken."""
    bid, ask = best_bid_ask(spec, last, model)
    step = spec.tick_size * model.level_ticks
    if side == "Ask":
        return [(ask + step * k, model.depth_per_level) for k in range(count)]
    prices = (bid - step * k for k in range(count))
    return [(p, model.depth_per_level) for p in prices if p > ZERO]


def book_levels(
    spec: MarketSpec,
    last_price: Decimal,
    model: LiquidityModel | None,
    limit: int | None = None,
    *,
    taken: Mapping[Decimal, Decimal] | None = None,
) -> tuple[list[Level], list[Level]]:
    """(bids, asks) as (price, quantity) Decimals, best first, at most `limit` levels a side.

    `taken`: quantity takers consumed at each price since the last price move (the engine's
    `taken(symbol)`); levels emptied by it are left out.
    """
    if model is None:
        count = KIND_LEVELS if limit is None else min(limit, KIND_LEVELS)
        tick = spec.tick_size
        bids = [(last_price - tick * k, KIND_DEPTH) for k in range(1, count + 1)]
        asks = [(last_price + tick * k, KIND_DEPTH) for k in range(1, count + 1)]
        return [b for b in bids if b[0] > ZERO], asks
    count = model.levels if limit is None else min(limit, model.levels)
    used = taken or {}
    out: list[list[Level]] = []
    for side in ("Bid", "Ask"):
        levels = []
        for price, qty in _side_levels(spec, last_price, model, side, model.levels):
            left = qty - used.get(price, ZERO)
            if left > ZERO:
                levels.append((price, left))
            if len(levels) == count:
                break
        out.append(levels)
    return out[0], out[1]


def walk(
    spec: MarketSpec,
    last: Decimal,
    model: LiquidityModel,
    side: str,
    quantity: Decimal,
    limit_price: Decimal | None,
    taken: Mapping[Decimal, Decimal] | None = None,
) -> list[Level]:
    """The fills a taker of `side` gets walking the opposite side, best price first.

    Stops at `limit_price` (None: a market order walks every level). The total may be short of
    `quantity` when the book is exhausted; the caller expires or rests the rest.
    """
    opposite = "Ask" if side == "Bid" else "Bid"
    used = taken or {}
    plan: list[Level] = []
    want = quantity
    for price, qty in _side_levels(spec, last, model, opposite, model.levels):
        if limit_price is not None and (
            price > limit_price if side == "Bid" else price < limit_price
        ):
            break
        left = qty - used.get(price, ZERO)
        if left <= ZERO:
            continue
        take = min(left, want)
        # Quantities stay on the market's step: a level never yields a fraction of a step.
        take = _to_tick(take, spec.step_size, ROUND_FLOOR)
        if take > ZERO:
            plan.append((price, take))
            want -= take
        if want <= ZERO:
            break
    return plan
