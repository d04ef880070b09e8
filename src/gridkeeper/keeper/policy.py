"""What happens after a process ends: restart (after how long), done, or give up. Pure logic.

The keeper records when each restart happened; this module decides from that history, the exit
and the instance's settings. No clock, no processes: the caller passes `now` and a random source.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from gridkeeper import backoff


class PolicySettings(Protocol):
    """The settings fields the policy reads (InstanceDaemon satisfies this)."""

    @property
    def auto_restart(self) -> Literal["always", "on-failure", "never"]: ...
    @property
    def max_restart_attempts(self) -> int: ...
    @property
    def restart_window_s(self) -> float: ...
    @property
    def restart_delay(self) -> float: ...
    @property
    def restart_delay_max(self) -> float: ...
    @property
    def restart_jitter(self) -> float: ...
    @property
    def fatal_exit_codes(self) -> list[int]: ...


@dataclass(frozen=True)
class Exit:
    """How a run ended. `code` is None when a signal ended it or the code is unknown (adopted)."""

    code: int | None
    signal: int | None = None
    cause: Literal["exit", "health", "memory", "cpu", "start_failed", "operator"] = "exit"

    @property
    def success(self) -> bool:
        return self.code == 0 and self.signal is None and self.cause == "exit"


@dataclass(frozen=True)
class Decision:
    action: Literal["restart", "exited", "stopped", "fatal"]
    delay: float = 0.0
    reason: str = ""


def backoff_delay(
    settings: PolicySettings, recent_restarts: int, rng: random.Random | None = None
) -> float:
    """`restart_delay * 2**n`, capped, plus up to `restart_jitter` of itself at random."""
    return backoff.delay(
        recent_restarts,
        float(settings.restart_delay),
        float(settings.restart_delay_max),
        jitter=float(settings.restart_jitter),
        rng=rng,
    )


def recent(history: Sequence[float], now: float, window: float) -> list[float]:
    """Restart times still inside the sliding window."""
    return [t for t in history if now - t < window]


def decide(
    settings: PolicySettings,
    exit: Exit,
    history: Sequence[float],
    now: float,
    rng: random.Random | None = None,
) -> Decision:
    """Decide what follows `exit`, given the times of earlier restarts."""
    if exit.cause == "operator":
        return Decision("stopped", reason="stopped by operator")
    if exit.code is not None and exit.code in settings.fatal_exit_codes and exit.cause == "exit":
        return Decision(
            "fatal",
            reason=f"exit code {exit.code} is listed in fatal_exit_codes; restarting cannot help",
        )
    policy = settings.auto_restart
    if policy == "never":
        return Decision("exited" if exit.success else "fatal", reason="auto_restart is never")
    if policy == "on-failure" and exit.success:
        return Decision("exited", reason="exited with code 0")
    in_window = recent(history, now, settings.restart_window_s)
    if len(in_window) >= settings.max_restart_attempts:
        return Decision(
            "fatal",
            reason=f"{len(in_window)} restarts within {settings.restart_window_s:g}s "
            f"(max_restart_attempts {settings.max_restart_attempts})",
        )
    return Decision("restart", delay=backoff_delay(settings, len(in_window), rng))


def describe(exit: Exit) -> str:
    """How the last run ended, as `status` shows it."""
    import signal as _signal

    if exit.cause == "operator":
        return "stopped by operator"
    if exit.cause == "health":
        return "restarted: health probe failing"
    if exit.cause == "memory":
        return "restarted: memory limit exceeded"
    if exit.cause == "cpu":
        return "restarted: CPU limit exceeded"
    if exit.cause == "start_failed":
        return "failed to start"
    if exit.signal is not None:
        try:
            name = _signal.Signals(exit.signal).name
        except ValueError:
            name = f"signal {exit.signal}"
        return f"killed by {name}"
    if exit.code is None:
        return "ended (exit code unknown: adopted process)"
    if exit.code == 0:
        return "exited with code 0"
    return f"crashed with exit code {exit.code}"
