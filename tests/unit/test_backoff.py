"""The one backoff rule every retry in gridkeeper uses."""

from __future__ import annotations

import random

from gridkeeper import backoff
from gridkeeper.backoff import Backoff


def test_doubles_from_initial_and_stops_at_the_cap() -> None:
    waits = [backoff.delay(n, 0.5, 30.0) for n in range(10)]
    assert waits[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(waits) == 30.0 and waits[-1] == 30.0
    assert backoff.delay(-3, 0.5, 30.0) == 0.5  # a negative count is the first retry
    assert backoff.delay(10**9, 0.5, 30.0) == 30.0  # no overflow on a huge count


def test_jitter_adds_up_to_its_share_and_never_subtracts() -> None:
    rng = random.Random(7)
    waits = [backoff.delay(2, 1.0, 60.0, jitter=0.2, rng=rng) for _ in range(500)]
    assert all(4.0 <= w <= 4.8 for w in waits)
    assert max(waits) - min(waits) > 0.5  # really spread, not a constant
    assert backoff.delay(3, 0.0, 60.0, jitter=0.5) == 0.0  # no delay stays no delay


def test_a_retry_loop_counts_and_resets() -> None:
    retry = Backoff(1.0, 5.0)
    assert [retry.next() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    retry.reset()
    assert retry.next() == 1.0
