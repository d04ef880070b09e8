"""The life of an alert: pending -> firing -> resolved. Pure: the clock is a parameter.

An `Observation` says whether a condition holds for one (rule, subject) right now. The `AlertBook`
turns a stream of observations and clock ticks into `Transition`s; the ones with `notify=True`
are what the operator hears about. The rules that keep notifications trustworthy:

- a condition must hold `for_seconds` before its alert fires (a pending alert that clears is
  dropped without a word);
- a firing alert notifies once, then reminds only every `repeat_interval` (never once acked);
- it resolves after the condition stays clear `resolve_after` seconds, with exactly one resolved
  message when the firing one went out;
- an alert that fired `flap_threshold` times within `flap_window` resolves only after a whole
  `flap_window` clear, so a flapping condition costs a bounded number of messages;
- a silenced alert fires quietly; if still firing when the silence ends, it notifies then.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Level = Literal["info", "warning", "error", "critical"]
LEVELS: tuple[Level, ...] = ("info", "warning", "error", "critical")
AlertState = Literal["pending", "firing", "resolved"]
TransitionKind = Literal["pending", "firing", "reminder", "resolved", "cancelled"]

# (rule, subject) -> is a silence covering it now
SilencePredicate = Callable[[str, str], bool]


def level_rank(level: str) -> int:
    """Order of a level name; unknown names rank above critical so they are never dropped."""
    try:
        return LEVELS.index(level)
    except ValueError:
        return len(LEVELS)


@functools.lru_cache(maxsize=4096)  # every cycle asks again for the same few hundred
def fingerprint(rule: str, subject: str) -> str:
    """Stable id of the thing an alert is about: the same rule on the same subject."""
    return hashlib.sha256(f"{rule}\x00{subject}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Policy:
    """How alerts repeat, resolve and damp flapping (see `AlertRules`)."""

    repeat_interval: float = 14400.0
    resolve_after: float = 30.0
    flap_window: float = 600.0
    flap_threshold: int = 3


@dataclass(frozen=True)
class Observation:
    """Whether a rule's condition holds for one subject at one moment."""

    rule: str
    subject: str
    active: bool
    level: Level = "warning"
    summary: str = ""
    for_seconds: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)
    # Notify once and resolve silently: for events that have no "end" (a restart happened).
    one_shot: bool = False
    # Overrides Policy.resolve_after (custom alerts resolve the moment they are resolved).
    resolve_after: float | None = None


@dataclass
class Alert:
    """One episode of one alert, from first observation to resolution."""

    fingerprint: str
    rule: str
    subject: str
    level: Level
    summary: str
    labels: dict[str, str]
    state: AlertState
    active_since: float
    for_seconds: float = 0.0
    one_shot: bool = False
    resolve_after: float | None = None
    fired_at: float | None = None
    clear_since: float | None = None
    resolved_at: float | None = None
    last_notified_at: float | None = None
    notified: bool = False
    acked: bool = False
    # Latched once the alert counts as flapping, so it resolves only after a whole flap_window
    # clear even when its old firings age out of the window meanwhile.
    flapping: bool = False
    id: int | None = None  # row id, set by the store

    def snapshot(self) -> Alert:
        return copy.deepcopy(self)


@dataclass(frozen=True)
class Transition:
    """A change in an alert's life; `notify` says whether channels should hear about it."""

    kind: TransitionKind
    alert: Alert
    notify: bool
    at: float


def _never_silenced(rule: str, subject: str) -> bool:
    return False


class AlertBook:
    """Every live (pending or firing) alert, keyed by fingerprint."""

    def __init__(self, policy: Policy, silenced: SilencePredicate = _never_silenced) -> None:
        self.policy = policy
        self.silenced = silenced
        self.alerts: dict[str, Alert] = {}
        # fingerprint -> recent firing times, kept across episodes to detect flapping
        self.fire_times: dict[str, list[float]] = {}
        # fingerprints whose clear_since changed without a transition: the store must hear of it,
        # or a monitor restarted while the alert clears would never resolve it
        self.dirty: set[str] = set()

    # -- restoring state (after a monitor restart) -------------------------------------------
    def restore(self, live: Iterable[Alert], fire_times: Mapping[str, list[float]]) -> None:
        for alert in live:
            self.alerts[alert.fingerprint] = alert
        for fp, times in fire_times.items():
            self.fire_times[fp] = sorted(times)

    # -- inputs ------------------------------------------------------------------------------
    def observe(self, obs: Observation, now: float) -> list[Transition]:
        """Apply one observation, then advance that alert's timers."""
        fp = fingerprint(obs.rule, obs.subject)
        alert = self.alerts.get(fp)
        out: list[Transition] = []
        if obs.active:
            if alert is None:
                alert = Alert(
                    fingerprint=fp,
                    rule=obs.rule,
                    subject=obs.subject,
                    level=obs.level,
                    summary=obs.summary,
                    labels=dict(obs.labels),
                    state="pending",
                    active_since=now,
                    for_seconds=obs.for_seconds,
                    one_shot=obs.one_shot,
                    resolve_after=obs.resolve_after,
                )
                self.alerts[fp] = alert
                out.append(Transition("pending", alert.snapshot(), False, now))
            else:
                if alert.clear_since is not None:
                    alert.clear_since = None
                    self.dirty.add(fp)
                if obs.summary:
                    alert.summary = obs.summary
                alert.level = obs.level
        elif alert is not None:
            if alert.state == "pending":
                del self.alerts[fp]
                out.append(Transition("cancelled", alert.snapshot(), False, now))
                return out
            if alert.clear_since is None:
                alert.clear_since = now
                self.dirty.add(fp)
        if alert is not None:
            out.extend(self._advance(alert, now))
        return out

    def observe_all(
        self, rule: str, observations: Iterable[Observation], now: float
    ) -> list[Transition]:
        """The complete picture for `rule`: a live alert of that rule not mentioned has cleared."""
        out: list[Transition] = []
        seen: set[str] = set()
        for obs in observations:
            seen.add(fingerprint(obs.rule, obs.subject))
            out.extend(self.observe(obs, now))
        for alert in [a for a in self.alerts.values() if a.rule == rule]:
            if alert.fingerprint not in seen:
                out.extend(
                    self.observe(Observation(rule=rule, subject=alert.subject, active=False), now)
                )
        return out

    def tick(self, now: float) -> list[Transition]:
        """Advance every live alert's timers (pending -> firing, reminders, resolution)."""
        out: list[Transition] = []
        for alert in list(self.alerts.values()):
            out.extend(self._advance(alert, now))
        return out

    def take_dirty(self) -> list[Alert]:
        """Live alerts whose clear_since changed since the last call (to be saved)."""
        out = [self.alerts[fp] for fp in self.dirty if fp in self.alerts]
        self.dirty.clear()
        return out

    def ack(self, fp: str) -> bool:
        alert = self.alerts.get(fp)
        if alert is None:
            return False
        alert.acked = True
        return True

    # -- the state machine -------------------------------------------------------------------
    def _hold(self, alert: Alert, now: float) -> float:
        recent = self._recent_fires(alert.fingerprint, now)
        if alert.flapping or len(recent) >= self.policy.flap_threshold:
            alert.flapping = True
            return self.policy.flap_window
        if alert.resolve_after is not None:
            return alert.resolve_after
        return self.policy.resolve_after

    def _recent_fires(self, fp: str, now: float) -> list[float]:
        times = [t for t in self.fire_times.get(fp, []) if now - t < self.policy.flap_window]
        if times:
            self.fire_times[fp] = times
        else:
            self.fire_times.pop(fp, None)
        return times

    def _advance(self, alert: Alert, now: float) -> list[Transition]:
        out: list[Transition] = []
        quiet = self.silenced(alert.rule, alert.subject)
        if alert.state == "pending" and now - alert.active_since >= alert.for_seconds:
            alert.state = "firing"
            alert.fired_at = now
            self.fire_times.setdefault(alert.fingerprint, []).append(now)
            if not quiet:
                alert.notified = True
                alert.last_notified_at = now
            out.append(Transition("firing", alert.snapshot(), not quiet, now))
        elif alert.state == "firing" and alert.clear_since is None and not quiet:
            if not alert.notified:
                # It fired under a silence that has since ended: the operator hears now.
                alert.notified = True
                alert.last_notified_at = now
                out.append(Transition("firing", alert.snapshot(), True, now))
            elif (
                not alert.acked
                and not alert.one_shot
                and self.policy.repeat_interval > 0
                and alert.last_notified_at is not None
                and now - alert.last_notified_at >= self.policy.repeat_interval
            ):
                alert.last_notified_at = now
                out.append(Transition("reminder", alert.snapshot(), True, now))
        if alert.state == "firing":
            resolve = alert.one_shot or (
                alert.clear_since is not None and now - alert.clear_since >= self._hold(alert, now)
            )
            if resolve:
                alert.state = "resolved"
                alert.resolved_at = now
                del self.alerts[alert.fingerprint]
                notify = alert.notified and not alert.one_shot
                out.append(Transition("resolved", alert.snapshot(), notify, now))
        return out
