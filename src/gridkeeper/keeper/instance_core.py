"""What every part of a supervised instance shares: its fields, the machine's event loop
(`feed`), the records it writes through its host, and the waiters of its commands.

keeper/instance.py assembles the instance from this core and its parts (instance_process.py:
the process's life and death; instance_probes.py: health probes and limits). The parts only
touch the fields declared here, so each can be read on its own. The machine decides; nothing
here decides anything.

Signals never wait on a write: every state-file write and event record goes through `_record`,
which logs a failure (a full disk) and carries on; the supervisor reports the store degraded.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from gridkeeper.keeper.health import Identity
from gridkeeper.keeper.limits import LimitTracker
from gridkeeper.keeper.machine import Action, Event, Machine, State, step
from gridkeeper.keeper.policy import Exit
from gridkeeper.keeper.spec import InstanceSpec

TAIL_LINES = 20

# The instance type a host takes back (contravariant: a host of any instance takes ours).
I_contra = TypeVar("I_contra", contravariant=True)


class Host(Protocol[I_contra]):
    """What an instance needs from the supervisor that owns it."""

    home: Path
    run_dir: Path

    def emit(
        self, instance: str, kind: str, message: str, data: dict[str, Any] | None = None
    ) -> None: ...
    def persist(self, inst: I_contra) -> None: ...
    def watch_output(self, inst: I_contra) -> None: ...
    def watch_death(self, inst: I_contra) -> None: ...
    def task_failed(self, what: str, exc: BaseException) -> None: ...


# Settles a command's waiter: the reply once the machine reaches what the command waits for.
Settle = Callable[[Machine], "dict[str, Any] | None"]


class InstanceCore:
    """The fields and primitives the parts of an instance share (see keeper/instance.py)."""

    def __init__(self, cfg: InstanceSpec, host: Host[Any]) -> None:
        self.cfg = cfg
        self.next_cfg: InstanceSpec | None = None  # applied at the next spawn (restart)
        # Host[Any]: the parts hand the host `self`, typed as their own class; the supervisor
        # is a Host[Instance], and the whole instance is what they hand it.
        self.host = host
        self.m = Machine()
        self.pid: int | None = None
        self.identity: str | None = None
        self.start_nonce: str | None = None  # what the probe expects back from /health
        self.popen: Any = None
        self.adopted = False
        self.started_at: float | None = None
        self.restarts = 0
        self.history: list[float] = []
        self.last_exit_code: int | None = None
        self.last_exit: str | None = None
        self.health = "unknown"
        self.health_failures = 0
        self.limits = LimitTracker()
        self.cpu_percent = 0.0
        self.rss_mb = 0.0
        self.stderr_tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.exit_future: asyncio.Future[Exit] | None = None
        self.stop_reason = "operator"
        self._dead: tuple[Exit, int | None] | None = None  # the last death, until cleaned
        self._killed = False  # the current stop needed SIGKILL
        self._stop_deadline: float | None = None
        self._kill_handle: asyncio.TimerHandle | None = None
        self._restart_handle: asyncio.TimerHandle | None = None
        self._restart_delay = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._waiters: list[tuple[Settle, asyncio.Future[dict[str, Any]]]] = []
        self._generation = 0
        self._queue: deque[Event] = deque()
        self._feeding = False

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def state(self) -> State:
        return self.m.state

    @state.setter
    def state(self, value: State) -> None:
        """Restoring a rest state from the state file (no process)."""
        self.m = Machine(phase=value, intent=self.m.intent, cause=None)

    @property
    def desired(self) -> Literal["running", "stopped"]:
        return "running" if self.m.intent == "run" else "stopped"

    @desired.setter
    def desired(self, value: str) -> None:
        self.m = Machine(self.m.phase, "run" if value == "running" else "stop", self.m.cause)

    @property
    def cleaning(self) -> bool:
        """The last process died and what it left behind is still being killed."""
        return self.m.phase == "cleaning"

    # ------------------------------------------------------------------ the machine
    def feed(self, event: Event) -> None:
        """Step the machine and run its actions. Events fed by an action are queued and run
        after it, in order, so a transition's actions never interleave with the next one's."""
        self._queue.append(event)
        if self._feeding:
            return
        self._feeding = True
        try:
            while self._queue:
                ev = self._queue.popleft()
                before = self.m
                self.m, actions = step(self.m, ev)
                for action in actions:
                    try:
                        self._run(action)
                    except Exception as exc:  # an action must never stop the machine
                        self.host.task_failed(f"{self.name}: action {action.kind}", exc)
                if self.m != before:
                    self._record(lambda: self.host.persist(self))
                self._check_waiters()
        finally:
            self._feeding = False

    def _run(self, action: Action) -> None:
        """Run one of the machine's actions (keeper/instance.py)."""
        raise NotImplementedError

    def _emit(self, kind: str, message: str, **data: Any) -> None:
        payload = {"state": self.state, "pid": self.pid, **data}
        self._record(lambda: self.host.emit(self.name, kind, message, payload))

    def _record(self, write: Callable[[], None]) -> None:
        """A record that may fail (a full disk): logged by the host, never in the way."""
        try:
            write()
        except Exception as exc:
            self.host.task_failed(f"{self.name}: recording", exc)

    def _spawn_task(self, coro: Any, what: str) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                exc = t.exception()
                assert exc is not None
                self.host.task_failed(f"{self.name}: {what}", exc)

        task.add_done_callback(done)

    # ------------------------------------------------------------------ waiting for outcomes
    def _wait(self, settle: Settle) -> asyncio.Future[dict[str, Any]]:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        result = settle(self.m)
        if result is not None:
            fut.set_result(result)
        else:
            self._waiters.append((settle, fut))
        return fut

    def _check_waiters(self) -> None:
        keep = []
        for settle, fut in self._waiters:
            if fut.done():
                continue
            result = settle(self.m)
            if result is None:
                keep.append((settle, fut))
            else:
                fut.set_result(result)
        self._waiters = keep

    def _restart_for(
        self, cause: Literal["health", "memory", "cpu", "start_failed"], why: str
    ) -> None:
        """Kill the current process tree; its death then follows the restart policy."""
        self._restart_why = why
        self.feed(Event("unhealthy", cause=cause))

    _restart_why = ""
    _fatal_reason = ""

    def _cancel_restart(self) -> None:
        if self._restart_handle is not None:
            self._restart_handle.cancel()
            self._restart_handle = None

    def _cancel_kill(self) -> None:
        if self._kill_handle is not None:
            self._kill_handle.cancel()
            self._kill_handle = None

    def _expected_identity(self) -> Identity:
        """Who must answer the HTTP probe: this instance, from this start. Grid bots must say
        so; other programs are only held to it when their answer names an instance."""
        return Identity(self.name, self.start_nonce, required=self.cfg.grid_bot)

    def cancel_tasks(self) -> None:
        self._cancel_restart()
        self._cancel_kill()
        for task in list(self._tasks):
            task.cancel()

    def _host_emit(
        self, name: str, kind: str, message: str, data: dict[str, Any] | None = None
    ) -> None:
        self._record(lambda: self.host.emit(name, kind, message, data))
