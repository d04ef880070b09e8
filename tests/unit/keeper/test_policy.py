"""The restart policy decides without processes or clocks."""

from __future__ import annotations

import random

from gridkeeper.config import InstanceDaemon
from gridkeeper.keeper.policy import Exit, backoff_delay, decide, describe


def settings(**kw: object) -> InstanceDaemon:
    base: dict[str, object] = {"restart_jitter": 0, "restart_delay": 1, "restart_delay_max": 8}
    return InstanceDaemon.model_validate({**base, **kw})


def test_on_failure_restarts_crash_and_finishes_on_zero() -> None:
    s = settings()
    assert decide(s, Exit(1), [], 100).action == "restart"
    assert decide(s, Exit(0), [], 100).action == "exited"
    assert decide(s, Exit(None, 9), [], 100).action == "restart"


def test_always_restarts_clean_exit() -> None:
    assert decide(settings(auto_restart="always"), Exit(0), [], 0).action == "restart"


def test_never() -> None:
    s = settings(auto_restart="never")
    assert decide(s, Exit(0), [], 0).action == "exited"
    assert decide(s, Exit(3), [], 0).action == "fatal"


def test_fatal_exit_code_goes_fatal_at_once() -> None:
    d = decide(settings(), Exit(78), [], 0)
    assert d.action == "fatal" and "78" in d.reason


def test_limit_within_sliding_window() -> None:
    s = settings(max_restart_attempts=3, restart_window_s=60)
    assert decide(s, Exit(1), [10, 20], 30).action == "restart"
    assert decide(s, Exit(1), [10, 20, 25], 30).action == "fatal"
    # Old restarts slide out of the window.
    assert decide(s, Exit(1), [10, 20, 25], 81).action == "restart"


def test_exponential_backoff_with_cap_and_jitter() -> None:
    s = settings()
    assert [backoff_delay(s, n) for n in range(5)] == [1, 2, 4, 8, 8]
    jittery = settings(restart_jitter=0.5)
    delays = {backoff_delay(jittery, 0, random.Random(seed)) for seed in range(20)}
    assert all(1 <= d <= 1.5 for d in delays) and len(delays) > 1
    assert decide(settings(restart_delay=0, restart_delay_max=0), Exit(1), [], 0).delay == 0


def test_operator_stop_and_descriptions() -> None:
    assert decide(settings(), Exit(None, 15, "operator"), [], 0).action == "stopped"
    assert describe(Exit(None, 9)) == "killed by SIGKILL"
    assert describe(Exit(2)) == "crashed with exit code 2"
    assert describe(Exit(None, None, "memory")) == "restarted: memory limit exceeded"
