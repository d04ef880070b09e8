"""The trading alerts: grid bots' reports (gridkeeper.gridreport) -> `Observation`s. Pure.

Every rule returns the complete set of its observations for `AlertBook.observe_all`: a grid
whose report is gone, whose instance the keeper no longer lists or an operator stopped, or
whose rule is disabled, is simply not mentioned and its alert clears. The subject is the
instance name, so `alert silence 'grid_paused:sol-*'` works as for every other rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from gridkeeper.gridreport import GridReport
from gridkeeper.monitor.rules import Observation

if TYPE_CHECKING:  # pydantic stays out of the monitor process (settings_view)
    from gridkeeper.config.monitor_grid import GridAlertRules

GRID_RULES = (
    "grid_paused",
    "grid_stopped",
    "position_mismatch",
    "grid_out_of_range",
    "grid_no_fills",
    "grid_drawdown",
    "balance_low",
    "order_rejects",
)
MISMATCH = "position_mismatch"


def watched(reports: Mapping[str, GridReport], states: Mapping[str, str] | None) -> list[str]:
    """The grids whose reports count: all of them when the keeper's view is unknown, else the
    instances it lists and an operator has not stopped (a stopped process is the operator's
    choice; a crashed one keeps its last word, and instance_down speaks for the process)."""
    if states is None:
        return sorted(reports)
    return sorted(n for n in reports if n in states and states[n] != "stopped")


def rules_for(rules: GridAlertRules, name: str) -> GridAlertRules:
    """The rules for one grid: the validated model applies its overrides (`for_grid`); in the
    monitor process, which never imports pydantic (settings_view), the resolver already put each
    overridden grid's effective rules under `grids`."""
    for_grid = getattr(rules, "for_grid", None)
    if for_grid is not None:
        return for_grid(name)  # type: ignore[no-any-return]
    return rules.grids.get(name, rules)  # type: ignore[return-value]


def grid_observations(
    reports: Mapping[str, GridReport],
    rules: GridAlertRules,
    now: float,
    states: Mapping[str, str] | None = None,
) -> dict[str, list[Observation]]:
    out: dict[str, list[Observation]] = {rule: [] for rule in GRID_RULES}
    for name in watched(reports, states):
        for obs in _one_grid(reports[name], rules_for(rules, name), now):
            out[obs.rule].append(obs)
    return out


def _labels(rep: GridReport, **extra: str) -> dict[str, str]:
    return {"instance": rep.instance, "symbol": rep.symbol, **extra}


def _one_grid(rep: GridReport, r: GridAlertRules, now: float) -> list[Observation]:
    name = rep.instance
    fresh = now - rep.written_at <= r.grid_report_stale_seconds
    kind = rep.reason_kind or "operator"
    reason = rep.reason or kind
    out: list[Observation] = []
    if r.grid_paused.enabled:
        out.append(
            Observation(
                rule="grid_paused",
                subject=name,
                active=rep.status == "paused" and kind != MISMATCH,
                level=r.grid_paused.level,
                summary=f"grid {name} paused ({kind}): {reason}",
                for_seconds=r.grid_paused.for_seconds,
                labels=_labels(rep, reason=kind),
            )
        )
    if r.grid_stopped.enabled:
        closing = "; still closing the position" if rep.closing else ""
        out.append(
            Observation(
                rule="grid_stopped",
                subject=name,
                active=rep.status == "stopped",
                level=r.grid_stopped.level,
                summary=f"grid {name} stopped ({kind}): {reason}{closing}",
                for_seconds=r.grid_stopped.for_seconds,
                labels=_labels(rep, reason=kind),
            )
        )
    if r.position_mismatch.enabled:
        out.append(
            Observation(
                rule="position_mismatch",
                subject=name,
                active=rep.status != "running" and kind == MISMATCH,
                level=r.position_mismatch.level,
                summary=f"grid {name}: {reason}",
                for_seconds=r.position_mismatch.for_seconds,
                labels=_labels(rep, reason=kind),
            )
        )
    if r.grid_out_of_range.enabled:
        out.append(_out_of_range(rep, r, fresh))
    if r.grid_no_fills.enabled:
        out.append(_no_fills(rep, r, now, fresh))
    if r.grid_drawdown.enabled:
        out.append(_drawdown(rep, r))
    if r.balance_low.enabled:
        out.append(_balance(rep, r))
    if r.order_rejects.enabled:
        out.append(_rejects(rep, r, now))
    return out


def _out_of_range(rep: GridReport, r: GridAlertRules, fresh: bool) -> Observation:
    side = ""
    if rep.price is not None and rep.lower is not None and rep.upper is not None:
        side = "below" if rep.price < rep.lower else "above" if rep.price > rep.upper else ""
    return Observation(
        rule="grid_out_of_range",
        subject=rep.instance,
        active=fresh and rep.status != "stopped" and bool(side),
        level=r.grid_out_of_range.level,
        summary=f"grid {rep.instance}: price {rep.price} {side} the range {rep.lower}-{rep.upper}",
        for_seconds=r.grid_out_of_range.for_seconds,
        labels=_labels(rep, side=side),
    )


def _no_fills(rep: GridReport, r: GridAlertRules, now: float, fresh: bool) -> Observation:
    since = max(rep.last_fill_at or 0.0, rep.trading_since or rep.written_at)
    idle_h = max(0.0, now - since) / 3600
    rule = r.grid_no_fills
    what = "no fill yet" if rep.last_fill_at is None else "no fill"
    return Observation(
        rule="grid_no_fills",
        subject=rep.instance,
        active=fresh and rep.status == "running" and idle_h >= rule.hours,
        level=rule.level,
        summary=f"grid {rep.instance}: {what} for {idle_h:.1f} h while trading "
        f"(limit {rule.hours:g} h)",
        labels=_labels(rep),
    )


def drawdown_floor(rep: GridReport, r: GridAlertRules) -> Decimal | None:
    """The highest floor that applies (an absolute loss, or a share of the capital), as a
    negative PnL; None when neither is set or known."""
    rule = r.grid_drawdown
    floors: list[Decimal] = []
    if rule.max_loss is not None:
        floors.append(-rule.max_loss)
    capital = rule.capital if rule.capital is not None else rep.capital
    if rule.max_loss_percent is not None and capital is not None and capital > 0:
        floors.append(-capital * rule.max_loss_percent / 100)
    return max(floors) if floors else None


def _drawdown(rep: GridReport, r: GridAlertRules) -> Observation:
    floor = drawdown_floor(rep, r)
    pnl = rep.total_pnl
    return Observation(
        rule="grid_drawdown",
        subject=rep.instance,
        active=pnl is not None and floor is not None and pnl <= floor,
        level=r.grid_drawdown.level,
        summary=f"grid {rep.instance}: total PnL {pnl} {rep.quote} at or below {floor}",
        for_seconds=r.grid_drawdown.for_seconds,
        labels=_labels(rep),
    )


def _balance(rep: GridReport, r: GridAlertRules) -> Observation:
    rule = r.balance_low
    low: list[str] = []
    checks = (
        (rep.quote, rep.quote_available, rule.quote_below),
        (rep.base, rep.base_available, rule.base_below),
    )
    for asset, free, floor in checks:
        if free is not None and floor is not None and free < floor:
            low.append(f"{asset} {free} < {floor}")
    return Observation(
        rule="balance_low",
        subject=rep.instance,
        active=bool(low),
        level=rule.level,
        summary=f"grid {rep.instance}: free balance low: {', '.join(low)}",
        for_seconds=rule.for_seconds,
        labels=_labels(rep),
    )


def _rejects(rep: GridReport, r: GridAlertRules, now: float) -> Observation:
    rule = r.order_rejects
    recent = sum(1 for t in rep.reject_times if now - t <= rule.window_seconds)
    return Observation(
        rule="order_rejects",
        subject=rep.instance,
        active=recent >= rule.count,
        level=rule.level,
        summary=f"grid {rep.instance}: {recent} orders rejected in the last "
        f"{rule.window_seconds:g} s (see the bot's order_rejected log events)",
        labels=_labels(rep),
    )
