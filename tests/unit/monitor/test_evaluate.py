"""One cycle's level rules (monitor/evaluate.py): what the loop decides, without the loop."""

from __future__ import annotations

from typing import Any

from gridkeeper.config.monitor import AlertRules
from gridkeeper.monitor.evaluate import cycle_transitions
from gridkeeper.monitor.rules import AlertBook, Policy, Transition

RULES = AlertRules()


def _run(
    book: AlertBook,
    statuses: list[dict[str, Any]] | None,
    *,
    restarts: dict[str, int],
    keeper_watched: bool = True,
    keeper_error: str = "",
    now: float = 0.0,
) -> list[Transition]:
    return cycle_transitions(
        book,
        RULES,
        [],
        statuses,
        [],
        keeper_watched=keeper_watched,
        keeper_error=keeper_error,
        restarts=restarts,
        now=now,
    )


def _rules(ts: list[Transition]) -> set[tuple[str, str]]:
    return {(t.alert.rule, t.alert.subject) for t in ts}


def test_a_silent_keeper_is_observed_only_when_it_is_watched() -> None:
    book = AlertBook(Policy())
    out = _run(book, None, restarts={}, keeper_error="ConnectionRefusedError: no socket")
    assert ("keeper_down", "keeper") in _rules(out)
    other = AlertBook(Policy())
    assert _run(other, None, restarts={}, keeper_watched=False, keeper_error="x") == []
    assert not other.alerts


def test_a_grown_restart_counter_fires_once_and_is_remembered() -> None:
    book = AlertBook(Policy())
    restarts: dict[str, int] = {}
    first = [{"name": "bot1", "state": "running", "restarts": 1}]
    assert ("instance_restarted", "bot1") not in _rules(_run(book, first, restarts=restarts))
    assert restarts == {"bot1": 1}  # updated in place: the loop keeps it between cycles
    again = [{"name": "bot1", "state": "running", "restarts": 2}]
    out = _run(book, again, restarts=restarts, now=60.0)
    assert ("instance_restarted", "bot1") in _rules(out)
    assert restarts == {"bot1": 2}


def test_no_status_skips_the_instance_rules() -> None:
    """The keeper did not answer: instances are neither down nor up (only keeper_down says so)."""
    book = AlertBook(Policy())
    restarts = {"bot1": 3}
    out = _run(book, None, restarts=restarts)
    assert not any(rule.startswith("instance_") for rule, _ in _rules(out))
    assert restarts == {"bot1": 3}
