"""run_backtest: a price path through the Simulator, step by step, with the daily and
running totals the report shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gridkeeper.backtest.data import PricePath
from gridkeeper.backtest.fast import INF, quiet_band
from gridkeeper.backtest.model import (
    CHART_POINTS,
    DAY_MS,
    ZERO,
    BacktestError,
    BacktestResult,
    SimSetup,
    _s,
)
from gridkeeper.backtest.simulator import Simulator


def _day(t: int) -> str:
    return datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%d")


@dataclass
class _Totals:
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    total: Decimal = ZERO
    fills: int = 0
    round_trips: int = 0


@dataclass
class _Tracker:
    """Metrics over the run: drawdown, time in range, per-day figures, the chart."""

    every: int
    peak: Decimal = ZERO
    max_drawdown: Decimal = ZERO
    in_range_ms: int = 0
    span_ms: int = 0
    chart: list[tuple[int, Decimal, Decimal]] = field(default_factory=list)
    daily: list[dict[str, Any]] = field(default_factory=list)
    day: str | None = None
    day_no: int = -1
    day_start: _Totals = field(default_factory=_Totals)


def run_backtest(
    setup: SimSetup,
    path: PricePath,
    *,
    progress: Callable[[int], None] | None = None,
    shortcuts: bool = True,
) -> BacktestResult:
    """Play `path` through the grid; the first price lays it out (as a bot started then).
    `shortcuts=False`: no step skipped and every settle confirmed by one more cycle (slow; the
    reference the skipping is tested against)."""
    if not path.prices:
        raise BacktestError("no prices in the selected period")
    sim = Simulator(setup, shortcuts=shortcuts)
    times, prices = path.times, path.prices
    sim.start(times[0], prices[0])
    n = len(prices)
    track = _Tracker(every=max(1, n // CHART_POINTS))
    every = track.every
    strategy = sim.strategy
    state = strategy.state
    prev_t, prev_price = times[0], state.last_price or prices[0]
    _observe(sim, track, times[0], prev_price, 0)
    read = sim._read
    skipped = False  # quiet steps since the last full one
    smoothed = sim.smoothed_mark
    # The loop's hot path (a step in the quiet band) works on locals; they are refreshed after
    # every full step, the only place the grid's state can change.
    lo, hi, until, stop, take = _band(sim)
    lower, upper = state.lower, state.upper
    cash, position, value0 = state.cash, state.position, state.value0
    span = in_range = 0
    day_end = (track.day_no + 1) * DAY_MS
    chart = track.chart
    for i in range(1, n):
        t = times[i]
        span += t - prev_t
        if lower <= prev_price <= upper:
            in_range += t - prev_t
        prev_t = t
        if progress is not None and i % 100_000 == 0:
            progress(i)
        raw = prices[i]
        price = read.get(raw) or sim.read_price(raw)
        if t < until and lo <= price <= hi and t < day_end:
            # The quiet band (fast.py): nothing but the price changes; only the risk limits
            # depend on the PnL at this price (GridStrategy._check_limits' figure).
            pnl = cash + position * price - value0
            if (stop is None or pnl > stop) and (take is None or pnl < take):
                # The strategy's last price and book top are set once the band is left (nothing
                # reads them in between): `_leave_band`.
                prev_price = price
                skipped = True
                if smoothed:
                    sim.mark_quiet(price)
                if pnl > track.peak:
                    track.peak = pnl
                elif track.peak - pnl > track.max_drawdown:
                    track.max_drawdown = track.peak - pnl
                if i % every == 0:
                    chart.append((t, price, pnl))
                continue
        if t < until and lo <= price <= hi:
            # A new UTC day in the band: the per-day figures, then the quiet step as above.
            pnl = cash + position * price - value0
            if (stop is None or pnl > stop) and (take is None or pnl < take):
                prev_price = price
                if smoothed:
                    sim.mark_quiet(price)
                _leave_band(sim, price)
                _observe(sim, track, t, price, i)
                day_end = (track.day_no + 1) * DAY_MS
                continue
        if skipped:
            _leave_band(sim, prev_price)
            skipped = False
        prev_price = sim.step(t, raw)
        strategy = sim.strategy
        state = strategy.state
        lo, hi, until, stop, take = _band(sim)
        lower, upper = state.lower, state.upper
        cash, position, value0 = state.cash, state.position, state.value0
        _observe(sim, track, t, prev_price, i)
        day_end = (track.day_no + 1) * DAY_MS
    track.span_ms, track.in_range_ms = span, in_range
    if skipped:
        _leave_band(sim, prev_price)
    _close_day(sim, track, prev_t)
    return _result(sim, track, path, prev_t)


def _leave_band(sim: Simulator, price: Decimal) -> None:
    """What the quiet steps since the last full one left to do: the strategy's last price and
    book top at the last of them (as `Simulator.step` sets them on a quiet price)."""
    strategy = sim.strategy
    strategy.state.last_price = price
    strategy.bid, strategy.ask = sim.top_at(price)


def _band(sim: Simulator) -> tuple[Decimal, Decimal, int, Decimal | None, Decimal | None]:
    """The quiet band (lo, hi, until_ms; empty when none) and the PnL at or below which the
    stop-loss fires, at or above which take-profit does (None: not watched — the limits are
    checked while the grid runs or waits in a pause that watches them, as `shortcuts.quiet`
    does: `GridStrategy.limits_watched`)."""
    strategy = sim.strategy
    cfg = strategy.config
    band = quiet_band(sim)
    lo, hi, until = band if band is not None else (INF, -INF, 0)
    if not strategy.limits_watched():
        return lo, hi, until, None, None
    stop = -cfg.stop_loss if cfg.stop_loss is not None else None
    return lo, hi, until, stop, cfg.take_profit


def _totals(sim: Simulator) -> _Totals:
    st = sim.strategy.state
    return _Totals(
        st.realized_profit, st.fees, st.funding, st.total_pnl(), len(sim.fills), sim.round_trips
    )


def _observe(sim: Simulator, track: _Tracker, t: int, price: Decimal, i: int) -> None:
    st = sim.strategy.state
    pnl = st.total_pnl(price)
    if pnl > track.peak:
        track.peak = pnl
    elif track.peak - pnl > track.max_drawdown:
        track.max_drawdown = track.peak - pnl
    if i % track.every == 0:
        track.chart.append((t, price, pnl))
    day = _day(t) if t // DAY_MS != track.day_no else track.day
    track.day_no = t // DAY_MS
    if day != track.day:
        if track.day is not None:
            _close_day(sim, track, t)
        track.day, track.day_start = day, _totals(sim)


def _close_day(sim: Simulator, track: _Tracker, t: int) -> None:
    now, start = _totals(sim), track.day_start
    track.daily.append(
        {
            "day": track.day,
            "total_pnl": _s(now.total - start.total),
            "realized": _s(now.realized - start.realized),
            "fees": _s(now.fees - start.fees),
            "funding": _s(now.funding - start.funding),
            "fills": now.fills - start.fills,
            "round_trips": now.round_trips - start.round_trips,
        }
    )


def _result(sim: Simulator, track: _Tracker, path: PricePath, end_t: int) -> BacktestResult:
    st = sim.strategy.state
    total = st.total_pnl()
    capital = sim.capital
    start_t = path.times[0]
    days = max((end_t - start_t) / DAY_MS, 1e-9)
    summary: dict[str, Any] = {
        "symbol": sim.setup.symbol,
        "start": start_t,
        "end": end_t,
        "days": round(days, 4),
        "prices": len(path.prices),
        "data": path.kind,
        "status": st.status,
        "reason": st.reason,
        "total_pnl": _s(total),
        "realized": _s(st.realized_profit),
        "unrealized": _s(st.unrealized_pnl()),
        "fees": _s(st.fees),
        "funding": _s(st.funding),
        "position": _s(st.position),
        "last_price": _s(st.last_price or ZERO),
        "fills": len(sim.fills),
        "round_trips": sim.round_trips,
        "max_drawdown": _s(track.max_drawdown),
        "time_in_range": round(track.in_range_ms / track.span_ms, 6) if track.span_ms else 1.0,
        "capital": _s(capital),
        "return_on_capital": _s((total / capital).quantize(Decimal("0.000001")))
        if capital > 0
        else None,
        "pnl_per_day": _s((total / Decimal(repr(days))).quantize(Decimal("0.00000001"))),
        "cycles": sim.cycles,
    }
    if track.chart and track.chart[-1][0] != end_t:
        track.chart.append((end_t, st.last_price or ZERO, total))
    return BacktestResult(
        summary, sim.fills, track.chart, sim.levels, sim.ranges, track.daily, sim.events
    )
