"""The instance state machine (keeper/machine.py), row by row and as properties, without a
process or an event loop."""

from __future__ import annotations

import itertools
from collections import deque

import pytest

from gridkeeper.keeper.machine import (
    ALIVE,
    EVENTS,
    KILL_CAUSES,
    PHASES,
    REST,
    Event,
    EventKind,
    Machine,
    Phase,
    step,
)

Row = tuple[Phase, str, str | None, Event, Phase, list[str]]

ROWS: list[Row] = [
    # (phase, intent, cause, event) -> (next phase, action kinds)
    ("stopped", "stop", None, Event("start"), "starting", ["cancel_restart", "spawn"]),
    ("fatal", "run", None, Event("start"), "starting", ["cancel_restart", "spawn"]),
    ("exited", "run", None, Event("start"), "starting", ["cancel_restart", "spawn"]),
    ("backoff", "run", None, Event("start"), "starting", ["cancel_restart", "spawn"]),
    ("running", "run", None, Event("start"), "running", []),
    ("starting", "run", None, Event("start"), "starting", []),
    ("stopping", "stop", "operator", Event("start"), "stopping", []),
    ("cleaning", "stop", "operator", Event("start"), "cleaning", []),
    ("running", "run", None, Event("stop"), "stopping", ["note", "term", "arm_kill"]),
    ("starting", "run", None, Event("stop"), "stopping", ["note", "term", "arm_kill"]),
    ("stopping", "run", "restart", Event("stop"), "stopping", ["term"]),
    ("stopping", "run", "health", Event("stop"), "stopping", ["term"]),
    ("cleaning", "run", None, Event("stop"), "cleaning", []),
    ("backoff", "run", None, Event("stop"), "stopped", ["cancel_restart", "note"]),
    ("fatal", "run", None, Event("stop"), "stopped", ["note"]),
    ("exited", "run", None, Event("stop"), "stopped", ["note"]),
    ("stopped", "stop", None, Event("stop"), "stopped", []),
    ("running", "run", None, Event("restart"), "stopping", ["note", "term", "arm_kill"]),
    ("stopping", "stop", "operator", Event("restart"), "stopping", []),
    ("stopped", "stop", None, Event("restart"), "starting", ["cancel_restart", "spawn"]),
    ("starting", "run", None, Event("spawned"), "starting", ["confirm"]),
    ("starting", "run", None, Event("spawn_failed"), "fatal", ["note"]),
    ("starting", "run", None, Event("confirmed"), "running", ["note"]),
    ("stopping", "stop", "operator", Event("confirmed"), "stopping", []),
    (
        "running",
        "run",
        None,
        Event("unhealthy", cause="health"),
        "stopping",
        ["note", "term", "arm_kill"],
    ),
    ("stopping", "stop", "operator", Event("unhealthy", cause="health"), "stopping", []),
    ("running", "run", None, Event("died"), "cleaning", ["cancel_kill", "contain"]),
    ("stopping", "stop", "operator", Event("died"), "cleaning", ["cancel_kill", "contain"]),
    ("stopping", "stop", "operator", Event("stop_timeout"), "stopping", ["kill", "arm_kill"]),
    ("running", "run", None, Event("stop_timeout"), "running", []),
    ("backoff", "run", None, Event("timer"), "starting", ["cancel_restart", "spawn"]),
    ("backoff", "stop", None, Event("timer"), "backoff", []),
    ("stopped", "stop", None, Event("timer"), "stopped", []),
    ("cleaning", "stop", "operator", Event("cleaned", decision="restart"), "stopped", ["note"]),
    (
        "cleaning",
        "run",
        "restart",
        Event("cleaned", decision="fatal"),
        "starting",
        ["cancel_restart", "spawn"],
    ),
    (
        "cleaning",
        "run",
        "operator",
        Event("cleaned", decision="stopped"),
        "starting",
        ["cancel_restart", "spawn"],
    ),
    (
        "cleaning",
        "run",
        None,
        Event("cleaned", decision="restart"),
        "backoff",
        ["note", "note", "arm_restart"],
    ),
    ("cleaning", "run", "health", Event("cleaned", decision="fatal"), "fatal", ["note", "note"]),
    ("cleaning", "run", None, Event("cleaned", decision="exited"), "exited", ["note"]),
    ("cleaning", "stop", None, Event("cleaned", decision="restart"), "stopped", ["note", "note"]),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r[0]}-{r[1]}-{r[2]}-{r[3].kind}")
def test_row(row: Row) -> None:
    phase, intent, cause, event, want_phase, want_actions = row
    m = Machine(phase, intent, cause)  # type: ignore[arg-type]
    after, actions = step(m, event)
    assert after.phase == want_phase
    assert [a.kind for a in actions] == want_actions


def every_machine() -> list[Machine]:
    causes = (None, *KILL_CAUSES)
    return [Machine(p, i, c) for p in PHASES for i in ("run", "stop") for c in causes]  # type: ignore[arg-type]


def test_a_stop_always_signals_a_live_process_and_never_spawns() -> None:
    for m in every_machine():
        after, actions = step(m, Event("stop"))
        kinds = [a.kind for a in actions]
        assert after.intent == "stop"
        assert "spawn" not in kinds
        if m.phase in ALIVE:
            assert "term" in kinds, m


def test_the_status_state_never_shows_an_internal_phase() -> None:
    assert Machine("cleaning").state == "stopping"
    for m in every_machine():
        for kind in EVENTS:
            after, _ = step(m, Event(kind, cause="health", decision="restart"))
            assert after.state in {
                "starting",
                "running",
                "backoff",
                "stopping",
                "stopped",
                "exited",
                "fatal",
            }


class World:
    """A cooperative process world: what each action leads to, queued, delivered in order.
    Processes die only when signalled; a clean-up asks the policy for a restart."""

    def __init__(self, m: Machine) -> None:
        self.m = m
        self.pending: deque[EventKind] = deque()
        self.dying = False
        # The initial phase implies what is already on its way.
        if m.phase == "starting":
            self.pending.append("confirmed")
        elif m.phase == "stopping":
            self.pending.append("died")
            self.dying = True
        elif m.phase == "cleaning":
            self.pending.append("cleaned")
        elif m.phase == "backoff":
            self.pending.append("timer")
        self.signals: list[str] = []

    def apply(self, event: Event) -> None:
        self.m, actions = step(self.m, event)
        for action in actions:
            kind = action.kind
            if kind == "spawn":
                self.pending.append("spawned")
            elif kind == "confirm":
                self.pending.append("confirmed")
            elif kind in ("term", "kill"):
                self.signals.append(kind)
                if not self.dying and self.m.phase in ALIVE:
                    self.dying = True
                    self.pending.append("died")
            elif kind == "contain":
                self.pending.append("cleaned")
            elif kind == "arm_restart":
                self.pending.append("timer")
            elif kind == "cancel_restart":
                self.drop("timer")

    def drop(self, kind: EventKind) -> None:
        self.pending = deque(e for e in self.pending if e != kind)

    def tick(self) -> bool:
        if not self.pending:
            return False
        kind = self.pending.popleft()
        if kind == "died":
            self.dying = False
            self.drop("confirmed")  # a stale confirmation is filtered by generation
        self.apply(Event(kind, decision="restart"))
        return True

    def settle(self) -> None:
        for _ in range(100):
            if not self.tick():
                return
        raise AssertionError(f"never settled: {self.m}")


@pytest.mark.parametrize("start", every_machine(), ids=str)
def test_the_last_operator_command_wins(start: Machine) -> None:
    """Any sequence of commands, landing anywhere in the process's life, ends as the last one
    asked: stopped after a stop, running after a start or restart."""
    commands: tuple[EventKind, ...] = ("start", "stop", "restart")
    for length in (1, 2, 3):
        for sequence in itertools.product(commands, repeat=length):
            for gaps in itertools.product((0, 1, 2), repeat=length):
                world = World(start)
                for command, gap in zip(sequence, gaps, strict=True):
                    for _ in range(gap):
                        world.tick()
                    world.apply(Event(command))
                world.settle()
                want = "stopped" if sequence[-1] == "stop" else "running"
                assert world.m.phase == want, (start, sequence, gaps, world.m)


def test_restart_then_stop_ends_stopped_with_one_kill() -> None:
    """Fault 2 of issue 11: `restart X & sleep 0.1; stop X`."""
    world = World(Machine("running", "run"))
    world.apply(Event("restart"))
    world.apply(Event("stop"))
    world.settle()
    assert world.m.phase == "stopped"
    assert "spawned" not in world.pending
    assert world.signals[0] == "term"


def test_a_health_restart_shows_stopping_during_the_kill() -> None:
    m, actions = step(Machine("running", "run"), Event("unhealthy", cause="health"))
    assert m.state == "stopping"
    assert [a.arg for a in actions if a.kind == "note"] == ["restarting"]
    m, _ = step(m, Event("died"))
    assert m.state == "stopping"
    m, _ = step(m, Event("cleaned", decision="restart"))
    assert m.phase == "backoff"


def test_rest_phases_have_no_process() -> None:
    assert not REST & ALIVE
