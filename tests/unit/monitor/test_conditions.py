"""Keeper events and the status list set and clear the event rules (crash, fatal, health...)."""

from __future__ import annotations

from typing import Any

from gridkeeper.config.monitor import AlertRules
from gridkeeper.monitor import conditions as cond
from gridkeeper.monitor.rules import AlertBook, Policy, Transition

RULES = AlertRules()


def _event(kind: str, name: str = "bot1") -> dict[str, Any]:
    return {"seq": 1, "instance": name, "kind": kind, "message": "", "data": {}}


def _feed(book: AlertBook, kind: str, now: float, name: str = "bot1") -> list[Transition]:
    out: list[Transition] = []
    for obs in cond.event_observations(_event(kind, name), RULES):
        out += book.observe(obs, now)
    return out


def _cycle(book: AlertBook, statuses: list[dict[str, Any]], now: float) -> list[Transition]:
    out: list[Transition] = []
    live = [(a.rule, a.subject) for a in book.alerts.values()]
    for obs in cond.status_clears(statuses, live):
        out += book.observe(obs, now)
    return out + book.tick(now)


def _resolved(ts: list[Transition]) -> list[tuple[str, str]]:
    return [(t.alert.rule, t.alert.subject) for t in ts if t.kind == "resolved"]


def test_adopted_after_keeper_restart_clears_health_and_limits() -> None:
    """A restarted keeper says `adopted`, never `health_recovered`: that must clear too."""
    book = AlertBook(Policy(resolve_after=10))
    _feed(book, "health_failing", 0)
    _feed(book, "memory_limit", 0)
    assert len(book.alerts) == 2
    _feed(book, "adopted", 5)
    assert _resolved(book.tick(15)) and not book.alerts


def test_removed_event_clears_every_event_rule() -> None:
    book = AlertBook(Policy(resolve_after=0))
    _feed(book, "fatal", 0)
    out = _feed(book, "removed", 1)
    assert _resolved(out) == [("instance_fatal", "bot1")]


def test_cpu_limit_event_action_clears_when_status_shows_running() -> None:
    """cpu_limit with action "event" leaves the instance running and sends no `running` event."""
    book = AlertBook(Policy(resolve_after=30))
    running = [{"name": "bot1", "state": "running"}]
    _feed(book, "cpu_limit", 0)
    assert not _resolved(_cycle(book, running, 10))
    # A new limit event restarts the clear timer: still firing 30 s after the first clear.
    _feed(book, "cpu_limit", 20)
    assert not _resolved(_cycle(book, running, 41))
    assert not _resolved(_cycle(book, running, 60))
    assert _resolved(_cycle(book, running, 72)) == [("instance_cpu_limit", "bot1")]


def test_health_alert_is_not_cleared_by_a_running_status() -> None:
    """A failing health check happens while running: only its own events clear it."""
    book = AlertBook(Policy(resolve_after=0))
    _feed(book, "health_failing", 0)
    assert not _resolved(_cycle(book, [{"name": "bot1", "state": "running"}], 100))
    assert book.alerts


def test_alert_of_instance_gone_from_status_or_stopped_resolves() -> None:
    """Fatal then dropped by a reload, or stopped by the operator: the alert must not stay."""
    book = AlertBook(Policy(resolve_after=0))
    _feed(book, "fatal", 0, "gone")
    _feed(book, "fatal", 0, "halted")
    _feed(book, "fatal", 0, "still")
    statuses = [{"name": "halted", "state": "stopped"}, {"name": "still", "state": "fatal"}]
    out = _cycle(book, statuses, 1)
    assert sorted(_resolved(out)) == [("instance_fatal", "gone"), ("instance_fatal", "halted")]
    assert [a.subject for a in book.alerts.values()] == ["still"]


def test_host_thresholds_are_percent_over_ratio_samples() -> None:
    """Samples are ratios (0-1), the settings' thresholds percent: 0.95 is above 90 %."""
    from gridkeeper.monitor.samples import Sample, labels

    samples = [
        Sample("gridkeeper_host_cpu_used_ratio", 0.95),
        Sample("gridkeeper_host_memory_used_ratio", 0.5),
        Sample("gridkeeper_host_filesystem_used_ratio", 0.91, labels(mountpoint="/")),
    ]
    obs = cond.host_observations(samples, RULES)
    assert obs["host_cpu"][0].active and obs["host_cpu"][0].summary == "host CPU 95% above 90%"
    assert not obs["host_memory"][0].active
    assert obs["host_disk"][0].active and "/ 91% used" in obs["host_disk"][0].summary
