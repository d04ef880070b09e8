"""The trading alert rules: grid reports -> observations -> alert lifecycle. Pure."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gridkeeper.config.monitor import AlertRules
from gridkeeper.gridreport import GridReport
from gridkeeper.monitor.grid_rules import GRID_RULES, drawdown_floor, grid_observations
from gridkeeper.monitor.rules import AlertBook, Observation, Policy, Transition

NOW = 1_000_000.0
HOUR = 3600.0


def _report(**over: Any) -> GridReport:
    base = GridReport(
        instance="sol",
        symbol="SOL_USDC",
        written_at=NOW,
        status="running",
        price=D(100),
        lower=D(90),
        upper=D(110),
        position=D(5),
        total_pnl=D(0),
        capital=D(1000),
        base="SOL",
        quote="USDC",
        base_available=D(10),
        quote_available=D(500),
        fills=3,
        last_fill_at=NOW - 60,
        trading_since=NOW - 600,
    )
    return replace(base, **over)


def _active(
    rule: str, rep: GridReport, rules: AlertRules | None = None, now: float = NOW
) -> Observation:
    obs = grid_observations({rep.instance: rep}, rules or AlertRules(), now)[rule]
    assert len(obs) == 1
    return obs[0]


def test_a_healthy_grid_raises_nothing() -> None:
    observed = grid_observations({"sol": _report()}, AlertRules(), NOW)
    assert set(observed) == set(GRID_RULES)
    assert [o.rule for obs in observed.values() for o in obs if o.active] == []


@pytest.mark.parametrize(
    ("status", "kind", "rule"),
    [
        ("paused", "boundary", "grid_paused"),
        ("paused", "operator", "grid_paused"),
        ("paused", "invariant", "grid_paused"),
        ("stopped", "stop_loss", "grid_stopped"),
        ("stopped", "take_profit", "grid_stopped"),
        ("stopped", "operator", "grid_stopped"),
        ("paused", "position_mismatch", "position_mismatch"),
    ],
)
def test_paused_and_stopped_carry_the_reason(status: str, kind: str, rule: str) -> None:
    rep = _report(status=status, reason_kind=kind, reason=f"{kind}: details")
    observed = grid_observations({"sol": rep}, AlertRules(), NOW)
    active = [o for obs in observed.values() for o in obs if o.active]
    assert [o.rule for o in active] == [rule]  # a mismatch pause is not also grid_paused
    (obs,) = active
    assert obs.labels["reason"] == kind and obs.subject == "sol"
    assert f"({kind})" in obs.summary or kind in obs.summary
    assert "details" in obs.summary


def test_levels_default_and_configured() -> None:
    stopped = _report(status="stopped", reason_kind="stop_loss", reason="stop_loss: x")
    assert _active("grid_stopped", stopped).level == "error"
    assert _active("grid_paused", _report(status="paused")).level == "warning"
    rules = AlertRules.model_validate({"grid_stopped": {"level": "critical"}})
    assert _active("grid_stopped", stopped, rules).level == "critical"


def test_out_of_range_waits_its_duration_and_ignores_a_stopped_grid() -> None:
    below = _report(price=D("89.99"))
    obs = _active("grid_out_of_range", below)
    assert obs.active and obs.for_seconds == 900 and "below" in obs.summary
    assert _active("grid_out_of_range", _report(price=D("110.01"))).labels["side"] == "above"
    assert not _active("grid_out_of_range", _report(price=D(110))).active  # the edge is in
    assert not _active("grid_out_of_range", replace(below, status="stopped")).active


def test_no_fills_counts_from_the_last_fill_or_the_start_of_trading() -> None:
    quiet = _report(last_fill_at=NOW - 7 * HOUR, trading_since=NOW - 8 * HOUR)
    assert _active("grid_no_fills", quiet).active  # default 6 h
    # Resumed an hour ago: the pause before it is not "no fills while trading".
    assert not _active("grid_no_fills", replace(quiet, trading_since=NOW - HOUR)).active
    never = _report(last_fill_at=None, fills=0, trading_since=NOW - 7 * HOUR)
    assert "no fill yet" in _active("grid_no_fills", never).summary
    assert not _active("grid_no_fills", replace(quiet, status="paused")).active
    rules = AlertRules.model_validate({"grid_no_fills": {"hours": 8}})
    assert not _active("grid_no_fills", quiet, rules).active


def test_stale_report_does_not_fire_time_rules_but_keeps_the_state() -> None:
    old = _report(written_at=NOW - 1000, last_fill_at=NOW - 7 * HOUR, price=D(80))
    assert not _active("grid_no_fills", old).active
    assert not _active("grid_out_of_range", old).active
    stopped = replace(old, status="stopped", reason_kind="stop_loss")
    assert _active("grid_stopped", stopped).active  # a dead bot's grid is still stopped


def test_drawdown_absolute_and_percent_of_capital() -> None:
    assert drawdown_floor(_report(), AlertRules()) == D(-100)  # 10 % of 1000
    assert not _active("grid_drawdown", _report(total_pnl=D("-99.99"))).active
    obs = _active("grid_drawdown", _report(total_pnl=D(-100)))
    assert obs.active and obs.level == "error" and obs.for_seconds == 60
    rules = AlertRules.model_validate(
        {"grid_drawdown": {"max_loss": "50", "max_loss_percent": None}}
    )
    assert _active("grid_drawdown", _report(total_pnl=D(-50)), rules).active
    assert not _active("grid_drawdown", _report(total_pnl=D(-49)), rules).active
    # Both set: the tighter floor wins; a configured capital replaces the reported notional.
    both = AlertRules.model_validate(
        {"grid_drawdown": {"max_loss": "500", "max_loss_percent": "5", "capital": "200"}}
    )
    assert drawdown_floor(_report(), both) == D(-10)
    off = AlertRules.model_validate({"grid_drawdown": {"max_loss_percent": None}})
    assert drawdown_floor(_report(), off) is None
    assert not _active("grid_drawdown", _report(total_pnl=D(-(10**6))), off).active


def test_balance_low_only_with_a_threshold() -> None:
    poor = _report(quote_available=D(5), base_available=D("0.1"))
    assert not _active("balance_low", poor).active  # off by default
    rules = AlertRules.model_validate({"balance_low": {"quote_below": "10"}})
    obs = _active("balance_low", poor, rules)
    assert obs.active and "USDC 5 < 10" in obs.summary
    rules = AlertRules.model_validate({"balance_low": {"base_below": "1"}})
    assert "SOL 0.1 < 1" in _active("balance_low", poor, rules).summary
    perp = replace(poor, base_available=None, quote_available=None)  # perps: not read
    assert not _active("balance_low", perp, rules).active


def test_order_rejects_in_a_window() -> None:
    times = tuple(NOW - s for s in (1, 2, 3, 4))
    assert not _active("order_rejects", _report(reject_times=times)).active  # 4 < 5
    five = _report(reject_times=(*times, NOW - 599))
    assert _active("order_rejects", five).active
    assert not _active("order_rejects", five, now=NOW + 2).active  # the oldest aged out


def test_per_grid_overrides_change_only_their_keys() -> None:
    rules = AlertRules.model_validate(
        {
            "grid_paused": {"level": "info", "for_seconds": 30},
            "grids": {"sol": {"grid_paused": {"level": "critical"}, "grid_stopped": {}}},
        }
    )
    paused = _report(status="paused", reason_kind="operator")
    obs = _active("grid_paused", paused, rules)
    assert obs.level == "critical" and obs.for_seconds == 30  # for_seconds kept
    other = replace(paused, instance="eth")
    assert grid_observations({"eth": other}, rules, NOW)["grid_paused"][0].level == "info"
    with pytest.raises(ValidationError):
        AlertRules.model_validate({"grids": {"sol": {"grid_pausd": {}}}})  # a typo


def test_disabled_rule_and_keeper_view_leave_grids_out() -> None:
    paused = _report(status="paused", reason_kind="operator")
    rules = AlertRules.model_validate({"grid_paused": {"enabled": False}})
    assert grid_observations({"sol": paused}, rules, NOW)["grid_paused"] == []
    # An instance the operator stopped, or one the keeper does not list, is not watched.
    assert grid_observations({"sol": paused}, AlertRules(), NOW, {"sol": "stopped"}) == {
        r: [] for r in GRID_RULES
    }
    assert grid_observations({"sol": paused}, AlertRules(), NOW, {})["grid_paused"] == []
    crashed = grid_observations({"sol": paused}, AlertRules(), NOW, {"sol": "backoff"})
    assert crashed["grid_paused"][0].active


def _run(book: AlertBook, reports: dict[str, GridReport], now: float) -> list[Transition]:
    out: list[Transition] = []
    for rule, observed in grid_observations(reports, AlertRules(), now).items():
        out += book.observe_all(rule, observed, now)
    return out + book.tick(now)


def test_lifecycle_pause_fires_once_and_resume_resolves() -> None:
    book = AlertBook(Policy(resolve_after=10))
    paused = _report(status="paused", reason_kind="operator", reason="paused by operator")
    fired = [t for t in _run(book, {"sol": paused}, NOW) if t.notify]
    assert [(t.kind, t.alert.rule) for t in fired] == [("firing", "grid_paused")]
    assert [t for t in _run(book, {"sol": paused}, NOW + 5) if t.notify] == []  # no repeat
    running = _report(written_at=NOW + 6)
    assert [t for t in _run(book, {"sol": running}, NOW + 6) if t.notify] == []
    resolved = [t for t in _run(book, {"sol": running}, NOW + 17) if t.notify]
    assert [(t.kind, t.alert.rule) for t in resolved] == [("resolved", "grid_paused")]
    # The report file gone (the grid removed): its alert clears as well.
    _run(book, {"sol": paused}, NOW + 20)
    _run(book, {}, NOW + 21)
    assert [t.kind for t in _run(book, {}, NOW + 32) if t.notify] == ["resolved"]


def test_per_grid_overrides_reach_the_monitor_process_without_pydantic(tmp_path: Path) -> None:
    """The monitor process reads its settings through the resolver (settings_view): the same
    overrides must apply there, where the rules are plain attribute objects."""
    from gridkeeper.monitor.settings_view import load

    settings = tmp_path / "daemon_config.json"
    settings.write_text(
        json.dumps(
            {
                "monitor": {
                    "rules": {
                        "grid_paused": {"level": "info", "for_seconds": 30},
                        "grids": {
                            "sol": {
                                "grid_paused": {"level": "critical"},
                                "grid_drawdown": {"max_loss": "50", "for_seconds": 0},
                            }
                        },
                    }
                },
                "notifications": {
                    "telegram": {"commands": True, "bot_token": "1:x", "chat_id": "42"}
                },
            }
        )
    )
    config = load(settings)
    rules = config.monitor.rules
    assert not hasattr(rules, "for_grid")  # really the pydantic-free view
    paused = _report(status="paused", reason_kind="operator")
    obs = _active("grid_paused", paused, rules)
    assert obs.level == "critical" and obs.for_seconds == 30
    other = replace(paused, instance="eth")
    assert grid_observations({"eth": other}, rules, NOW)["grid_paused"][0].level == "info"
    # Money thresholds arrive as exact Decimals (not strings) in that process too.
    assert _active("grid_drawdown", _report(total_pnl=D("-60")), rules).active
