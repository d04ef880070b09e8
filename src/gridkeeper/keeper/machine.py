"""An instance's life as one pure table: (phase, event) -> (next phase, actions). No clock, no
processes, no asyncio: keeper/instance.py executes the actions and feeds the events back.

Two rules are properties of the table (tests/unit/keeper/test_machine.py checks them over every
row and over sequences of commands):
- **The last operator command wins.** `start`, `stop` and `restart` only set the *intent*; every
  later step reads the intent, never a flag set by an earlier command. A stop that lands during
  a restart's kill ends stopped; a start that lands during a stop starts again once the old
  process is gone.
- **A stop always signals.** A stop in a phase with a live process always carries a `term`
  action, whatever else is going on (a restart's or a health kill, a start in progress).

Phases are the states `status` shows, plus `cleaning`: the main process is dead and what it
left behind is being killed. It shows as `stopping` (the keeper is still killing processes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, get_args

Phase = Literal[
    "stopped", "starting", "running", "stopping", "cleaning", "backoff", "exited", "fatal"
]
State = Literal["starting", "running", "backoff", "stopping", "stopped", "exited", "fatal"]
Intent = Literal["run", "stop"]
# Why the live process is being killed; None when it died by itself.
Cause = Literal["operator", "restart", "health", "memory", "cpu", "start_failed"]
EventKind = Literal[
    "start",  # operator: run it
    "stop",  # operator: stop it
    "restart",  # operator: stop it, then run it again at once
    "spawned",  # the process started
    "spawn_failed",  # the program could not be executed
    "confirmed",  # it stayed up startsecs (and the probe passed)
    "unhealthy",  # probes failed / a limit was breached / the start probe never passed: kill it
    "died",  # the main process ended
    "cleaned",  # what it left behind is gone; `decision` says what the restart policy wants
    "stop_timeout",  # the process outlived its stop_timeout (or the last SIGKILL)
    "timer",  # the backoff delay is over
]
Decision = Literal["restart", "exited", "fatal", "stopped"]
ActionKind = Literal[
    "spawn",
    "term",
    "kill",
    "arm_kill",  # arg "stop_timeout" (first) or "retry" (a SIGKILL that has not worked yet)
    "cancel_kill",
    "contain",
    "arm_restart",
    "cancel_restart",
    "confirm",
    "note",  # record an event: arg is its kind
]

PHASES: tuple[Phase, ...] = get_args(Phase)
EVENTS: tuple[EventKind, ...] = get_args(EventKind)
ALIVE: frozenset[Phase] = frozenset({"starting", "running", "stopping"})  # a live main process
REST: frozenset[Phase] = frozenset({"stopped", "exited", "fatal"})
COMMANDS: frozenset[EventKind] = frozenset({"start", "stop", "restart"})
KILL_CAUSES: tuple[Cause, ...] = get_args(Cause)


@dataclass(frozen=True)
class Event:
    kind: EventKind
    cause: Cause | None = None  # for "unhealthy"
    decision: Decision | None = None  # for "cleaned"


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    arg: str | None = None


@dataclass(frozen=True)
class Machine:
    phase: Phase = "stopped"
    intent: Intent = "stop"
    cause: Cause | None = None  # why the current (or just dead) process is being killed

    @property
    def state(self) -> State:
        """What `status` shows."""
        return "stopping" if self.phase == "cleaning" else self.phase

    @property
    def alive(self) -> bool:
        return self.phase in ALIVE


def _a(*specs: str) -> tuple[Action, ...]:
    """`_a("term", "arm_kill:stop_timeout")` -> actions."""
    out = []
    for spec in specs:
        kind, _, arg = spec.partition(":")
        out.append(Action(kind, arg or None))  # type: ignore[arg-type]
    return tuple(out)


KILL = _a("term", "arm_kill:stop_timeout")
SPAWN = _a("cancel_restart", "spawn")


def step(m: Machine, ev: Event) -> tuple[Machine, tuple[Action, ...]]:
    """The whole table. Unknown (phase, event) pairs change nothing: a late timer or a stale
    probe result is harmless by construction."""
    p, k = m.phase, ev.kind
    # Operator commands first set the intent: the last one wins.
    if k == "start":
        m = replace(m, intent="run")
        if p in REST or p == "backoff":
            return replace(m, phase="starting", cause=None), SPAWN
        return m, ()  # running/starting: nothing to do; stopping/cleaning: runs after the death
    if k == "restart":
        m = replace(m, intent="run")
        if p in ("starting", "running"):
            return replace(m, phase="stopping", cause="restart"), (*_a("note:stopping"), *KILL)
        if p in ("stopping", "cleaning"):
            return replace(m, cause="restart"), ()  # start again as soon as it is gone
        return replace(m, phase="starting", cause=None), SPAWN
    if k == "stop":
        m = replace(m, intent="stop")
        if p in ("starting", "running"):
            return replace(m, phase="stopping", cause="operator"), (*_a("note:stopping"), *KILL)
        if p == "stopping":
            return replace(m, cause="operator"), _a("term")  # a stop always signals
        if p == "cleaning":
            return m, ()  # no process; its leftovers are being killed; it ends stopped
        if p == "backoff":
            return replace(m, phase="stopped"), _a("cancel_restart", "note:stopped")
        if p in ("exited", "fatal"):
            return replace(m, phase="stopped"), _a("note:stopped")
        return m, ()
    # Process events.
    if k == "spawned" and p == "starting":
        return m, _a("confirm")
    if k == "spawn_failed" and p == "starting":
        return replace(m, phase="fatal", cause=None), _a("note:fatal")
    if k == "confirmed" and p == "starting":
        return replace(m, phase="running"), _a("note:running")
    if k == "unhealthy" and p in ("starting", "running"):
        cause = ev.cause or "health"
        return replace(m, phase="stopping", cause=cause), (*_a("note:restarting"), *KILL)
    if k == "died" and p in ALIVE:
        return replace(m, phase="cleaning"), _a("cancel_kill", "contain")
    if k == "stop_timeout" and p == "stopping":
        return m, _a("kill", "arm_kill:retry")
    if k == "timer" and p == "backoff" and m.intent == "run":
        return replace(m, phase="starting"), SPAWN
    if k == "cleaned" and p == "cleaning":
        return _after_death(m, ev.decision or "restart")
    return m, ()


def _after_death(m: Machine, decision: Decision) -> tuple[Machine, tuple[Action, ...]]:
    asked = m.cause in ("operator", "restart")  # the operator ended it: no exit report, no policy
    ended = () if asked else _a("note:ended")
    done = replace(m, cause=None)
    if m.intent == "stop":
        return replace(done, phase="stopped"), (*ended, *_a("note:stopped"))
    if asked:
        return replace(done, phase="starting"), (*ended, *SPAWN)  # a restart, or a start queued
    if decision == "restart":
        return replace(done, phase="backoff"), (*ended, *_a("note:backoff", "arm_restart"))
    if decision == "fatal":
        return replace(done, phase="fatal"), (*ended, *_a("note:fatal"))
    if decision == "exited":
        return replace(done, phase="exited"), ended
    return replace(done, phase="stopped", intent="stop"), (*ended, *_a("note:stopped"))
