"""The one backoff rule of gridkeeper: every retry waits `initial * 2**attempt`, capped at
`maximum`, plus up to `jitter` of itself at random (so many clients retrying together spread out).

Used by the keeper's restarts, the monitor's notifications and keeper watch, the exchange
client's 429/5xx retries, the exchange streams' reconnects and the bot's per-level reject pause
(jitter 0 there: the backtester must replay the same waits). Pure: no I/O, imports nothing of ours.
"""

from __future__ import annotations

import random

_RNG = random.Random()
_MAX_DOUBLINGS = 60  # 2**60 dwarfs any cap; keeps a huge attempt count from overflowing


def delay(
    attempt: int,
    initial: float,
    maximum: float,
    *,
    jitter: float = 0.0,
    rng: random.Random | None = None,
) -> float:
    """The wait before retry number `attempt` (0 for the first retry)."""
    base = min(float(maximum), float(initial) * 2.0 ** min(max(attempt, 0), _MAX_DOUBLINGS))
    if base <= 0 or jitter <= 0:
        return base
    return base + base * jitter * (rng or _RNG).random()


class Backoff:
    """The same rule for a retry loop: `next()` is the wait before the next try (and counts it),
    `reset()` after a success starts again from `initial`."""

    def __init__(self, initial: float, maximum: float, *, jitter: float = 0.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.attempts = 0

    def next(self) -> float:
        wait = delay(self.attempts, self.initial, self.maximum, jitter=self.jitter)
        self.attempts += 1
        return wait

    def reset(self) -> None:
        self.attempts = 0
