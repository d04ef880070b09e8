"""The quiet band: the prices at which a backtest step provably does nothing, found once.

Most price steps of a grid fill nothing and change nothing. `shortcuts.quiet` proves that for
one price (a full check: the engine's move, risk limits, boundary, waiting levels); here the same
proof is turned around after a step that did run it: the band `[lo, hi]` of prices, valid until
`until_ms`, inside which every condition of `quiet` holds *and* the engine's move would fill
nothing. A step inside the band then needs neither the engine nor the strategy: the driver only
records the new price (`run_backtest`). Only the stop-loss/take-profit test, which depends on
the PnL at the price, is left to the driver (it computes that PnL for the drawdown anyway).

The band is conservative (sound, not complete): a price outside it takes the full path, whose
result is the reference. All prices played are multiples of the tick (`MarketSpec.round_price`),
so strict and non-strict bounds become tick multiples.
"""

from __future__ import annotations

import sys
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gridkeeper.backtest.simulator import Simulator

INF = Decimal("Infinity")
NEVER = sys.maxsize


def at_most(x: Decimal, tick: Decimal) -> Decimal:
    """The largest multiple of `tick` that is <= x."""
    q = (x / tick).to_integral_value(ROUND_FLOOR) * tick
    while q > x:  # the division rounds at 28 digits: make sure, whatever the operands
        q -= tick
    return q


def at_least(x: Decimal, tick: Decimal) -> Decimal:
    """The smallest multiple of `tick` that is >= x."""
    q = (x / tick).to_integral_value(ROUND_CEILING) * tick
    while q < x:
        q += tick
    return q


def quiet_band(sim: Simulator) -> tuple[Decimal, Decimal, int] | None:
    """(lo, hi, until_ms): a step at a tick price `lo <= p <= hi` before `until_ms` is quiet
    (if the PnL at `p` reaches no stop-loss/take-profit); None when no such band is known."""
    client = sim.client
    if not sim.shortcuts or sim.always or client.fills or client.expired:
        return None
    strategy = sim.strategy
    st, cfg = strategy.state, strategy.config
    price = st.last_price
    if price is None:
        return None
    tick = sim.pspec.tick_size
    until = sim.next_funding_ms if sim.next_funding_ms is not None else NEVER
    # The engine: a price between the resting bid and ask trades through neither.
    bid, ask = sim.engine.resting_tops(sim.setup.symbol)
    lo = bid if bid is not None else -INF
    hi = ask if ask is not None else INF
    if st.status != "running":
        # `shortcuts.quiet`: a boundary pause resumes back in range; the limits (watched in
        # a pause too) are checked on each step's PnL by the caller (`sim._band`).
        if st.auto_resume:
            if price < st.lower:
                below = at_most(st.lower, tick)
                hi = min(hi, below - tick if below == st.lower else below)
            elif price > st.upper:
                above = at_least(st.upper, tick)
                lo = max(lo, above + tick if above == st.upper else above)
            else:
                return None
        return (lo, hi, until) if lo <= hi else None
    tol = cfg.boundary_tolerance
    hi = min(hi, at_most(st.upper * (1 + tol), tick))
    lo = max(lo, at_least(st.lower * (1 - tol), tick))
    for side, level, retry_ms in sim.idle:
        if retry_ms > sim.last_cycle_ms:
            if retry_ms <= client.now_ms:
                return None  # `shortcuts.quiet`: a refused level's back-off ended, plan again
            until = min(until, retry_ms)  # ...and once it ends, the full path decides
            continue
        # A waiting level rests only at or beyond the book's top, which is strictly on the far
        # side of the last price (one tick at least, or the book model's spread): a bid level
        # at or above the price, an ask level at or below it, cannot rest.
        if side == "Bid":
            hi = min(hi, level)
        else:
            lo = max(lo, level)
    return (lo, hi, until) if lo <= hi else None
