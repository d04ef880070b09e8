"""Limit breaches need consecutive samples; one spike never restarts a bot."""

from __future__ import annotations

from gridkeeper.keeper.limits import LimitTracker
from gridkeeper.keeper.spec import DaemonSpec


def test_memory_needs_consecutive_samples() -> None:
    limits = DaemonSpec(memory_limit_mb=100, limit_samples=3)
    tracker = LimitTracker()
    assert tracker.observe(limits, 150, 0) == []
    assert tracker.observe(limits, 50, 0) == []  # the spike is forgiven
    assert tracker.observe(limits, 150, 0) == []
    assert tracker.observe(limits, 150, 0) == []
    [breach] = tracker.observe(limits, 150, 0)
    assert breach.kind == "memory" and breach.restart and breach.limit == 100
    assert "150 MiB > 100 MiB" in breach.message
    assert tracker.observe(limits, 150, 0) == []  # counting starts again


def test_cpu_is_an_event_unless_configured_to_restart() -> None:
    tracker = LimitTracker()
    event_only = DaemonSpec(cpu_limit_percent=50, limit_samples=1)
    [breach] = tracker.observe(event_only, 0, 90)
    assert breach.kind == "cpu" and not breach.restart
    restart = DaemonSpec(cpu_limit_percent=50, limit_samples=1, cpu_limit_action="restart")
    assert tracker.observe(restart, 0, 90)[0].restart


def test_no_limits_no_breaches() -> None:
    tracker = LimitTracker()
    assert tracker.observe(DaemonSpec(), 10_000, 800) == []


def test_cutting_long_output_never_splits_a_secret() -> None:
    from gridkeeper.keeper.output import safe_cut

    data = b"x" * 60 + b"s3cretvalue" + b"y" * 60
    assert safe_cut(data, 65, [b"s3cretvalue"]) == 60  # moved before the secret
    assert safe_cut(data, 50, [b"s3cretvalue"]) == 50  # no secret across this cut
    assert safe_cut(data, 71, [b"s3cretvalue"]) == 71  # cut right after it
