"""One supervised instance: executes its state machine (keeper/machine.py), owns its process,
its probes and its limits.

The machine decides; this module only runs the actions it returns (spawn, signal, arm a timer,
contain leftovers, record an event) and feeds back what happened (spawned, died, cleaned, a timer
fired). Deaths arrive from the supervisor (SIGCHLD for our children, a pidfd for adopted
processes); nothing here polls for a death. Timers are real timers.

Signals never wait on a write: every state-file write and event record goes through `_record`,
which logs a failure (a full disk) and carries on; the supervisor reports the store degraded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

from gridkeeper.keeper import policy, process
from gridkeeper.keeper.health import Identity, probe
from gridkeeper.keeper.limits import LimitTracker
from gridkeeper.keeper.machine import REST, Action, Event, Machine, State, step
from gridkeeper.keeper.policy import Exit
from gridkeeper.keeper.sampling import Usage
from gridkeeper.keeper.spec import InstanceSpec

__all__ = ["ACTIVE", "Host", "Instance", "State"]

ACTIVE: frozenset[str] = frozenset({"starting", "running", "stopping"})
TAIL_LINES = 20
CONTAIN_TIMEOUT = 5.0
KILL_RETRY = 5.0  # the keeper never forgets a process it has not seen die: SIGKILL again
MIN_SHOWN_HIDDEN = 4  # shorter ${VAR} values (a port, a flag) are left as they are


class Host(Protocol):
    """What an instance needs from the supervisor that owns it."""

    home: Path
    run_dir: Path

    def emit(
        self, instance: str, kind: str, message: str, data: dict[str, Any] | None = None
    ) -> None: ...
    def persist(self, inst: Instance) -> None: ...
    def watch_output(self, inst: Instance) -> None: ...
    def watch_death(self, inst: Instance) -> None: ...
    def task_failed(self, what: str, exc: BaseException) -> None: ...


# Settles a command's waiter: the reply once the machine reaches what the command waits for.
Settle = Callable[[Machine], "dict[str, Any] | None"]


class Instance:
    def __init__(self, cfg: InstanceSpec, host: Host) -> None:
        self.cfg = cfg
        self.next_cfg: InstanceSpec | None = None  # applied at the next spawn (restart)
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

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        now = time.time()
        running = self.state in ACTIVE and self.pid is not None and self.started_at
        return {
            "name": self.name,
            "state": self.state,
            # What the operator asked for last: "stopping" with desired "running" starts again.
            "desired": self.desired,
            "pid": self.pid,
            "started_at": self.started_at,
            "uptime_s": round(now - self.started_at, 1) if running and self.started_at else None,
            "restarts": self.restarts,
            "last_exit_code": self.last_exit_code,
            "last_exit": self.last_exit,
            "cpu_percent": round(self.cpu_percent, 1) if self.pid else 0.0,
            "rss_mb": round(self.rss_mb, 1) if self.pid else 0.0,
            # No process, no health: "healthy" for a stopped instance would be a lie.
            "health": self.health if self.cfg.health is not None and self.pid else None,
            "port": self.cfg.web_port,
            "config": str(self.cfg.path),
            "log_dir": str(self.cfg.log_dir(self.host.home)),
            "adopted": self.adopted,
        }

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
        kind = action.kind
        if kind == "spawn":
            self._launch()
        elif kind == "term":
            if self._stop_deadline is None:
                self._stop_deadline = time.monotonic() + self.cfg.daemon.stop_timeout
                self._killed = False
            self._signal_tree(self.pid, signal.SIGTERM)
        elif kind == "kill":
            self._killed = True
            self._signal_tree(self.pid, signal.SIGKILL)
        elif kind == "arm_kill":
            delay = self.cfg.daemon.stop_timeout if action.arg == "stop_timeout" else KILL_RETRY
            self._cancel_kill()
            self._kill_handle = asyncio.get_running_loop().call_later(
                delay, self.feed, Event("stop_timeout")
            )
        elif kind == "cancel_kill":
            self._cancel_kill()
        elif kind == "contain":
            self._spawn_task(self._clean_up(), "clean-up after a death")
        elif kind == "arm_restart":
            now = time.time()
            self.history.append(now)
            self.restarts += 1
            self._cancel_restart()
            self._restart_handle = asyncio.get_running_loop().call_later(
                self._restart_delay, self.feed, Event("timer")
            )
        elif kind == "cancel_restart":
            self._cancel_restart()
        elif kind == "confirm":
            self._spawn_task(self._confirm_start(self._generation), "start confirmation")
        elif kind == "note":
            self._note(action.arg or "")

    def _note(self, kind: str) -> None:
        pid = self.pid
        if kind == "stopping":
            message = f"{self.name} stopping (pid {pid})"
        elif kind == "restarting":
            message = f"{self.name}: {self._restart_why}"
            self._emit(kind, message, cause=self.m.cause)
            return
        elif kind == "running":
            message = f"{self.name} running (pid {pid})"
        elif kind == "backoff":
            now = time.time()
            window = self.cfg.daemon.restart_window_s
            self._emit(
                kind,
                f"{self.name} restarts in {self._restart_delay:.2f}s",
                delay=self._restart_delay,
                attempt=len(policy.recent(self.history, now, window)) + 1,
            )
            return
        elif kind == "fatal":
            reason = self._fatal_reason or self.last_exit or "gave up"
            # The program's own last word (e.g. the bot's "web_port N ... in use by pid M")
            # is what the operator needs; the exit code alone says only "do not restart".
            said = self.stderr_tail[-1].strip() if self.stderr_tail else ""
            message = f"{self.name} gave up: {reason}" + (f"; it said: {said}" if said else "")
            self._emit(kind, message, reason=reason, last_error=said)
            return
        elif kind == "stopped":
            message = self._stopped_message
        elif kind == "ended":
            exit, dead_pid = self._dead or (Exit(None), None)
            self._emit(
                "exited" if exit.success else "crashed",
                f"{self.name} (pid {dead_pid}) {self.last_exit}",
                pid=dead_pid,
                code=exit.code,
                signal=exit.signal,
                cause=exit.cause,
            )
            return
        else:
            message = f"{self.name} {kind}"
        self._emit(kind, message)

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

    def _outcome(self, outcome: str, message: str) -> dict[str, Any]:
        result: dict[str, Any] = {"name": self.name, "outcome": outcome, "message": message}
        if outcome == "failed":
            result["stderr"] = list(self.stderr_tail)
        return result

    def _run_outcome(self, m: Machine) -> dict[str, Any] | None:
        """What a start or restart waits for: running, or an end that is not running."""
        if m.phase == "running":
            return self._outcome("running", f"{self.name} running (pid {self.pid})")
        if m.intent == "stop" and m.phase in REST:
            return self._outcome("failed", f"{self.name} stopped (a later stop overrode this)")
        if m.phase in ("backoff", "fatal", "exited"):
            return self._outcome("failed", f"{self.name} {m.state}: {self.last_exit}")
        return None

    def wait_settled(self) -> asyncio.Future[dict[str, Any]]:
        """A future resolved when this start attempt is running or has failed."""
        return self._wait(self._run_outcome)

    async def idle(self) -> None:
        """Wait until no post-death clean-up is running."""
        if self.cleaning:
            await self._wait(lambda m: {} if m.phase != "cleaning" else None)

    # ------------------------------------------------------------------ commands
    def start(self, *, operator: bool = True) -> tuple[str, str]:
        """Ask for the instance to run; (outcome, message)."""
        before = self.m.phase
        if operator and before not in ("starting", "running"):
            self.history.clear()
        self.feed(Event("start"))
        if before == "starting":
            return "starting", f"{self.name} is already starting (pid {self.pid})"
        if before == "running":
            return "already_running", f"{self.name} is already running (pid {self.pid})"
        if before in ("stopping", "cleaning"):
            return "starting", f"{self.name} starts again once its last process is gone"
        return "starting", f"{self.name} starting (pid {self.pid})"

    def restart(
        self, cfg: InstanceSpec | None = None, *, reason: str = "operator (restart)"
    ) -> tuple[str, str]:
        """Stop then start at once (with `cfg` when given); wait_settled() tells how it ended."""
        before = self.m.phase
        if cfg is not None:
            if self.pid is None and before != "cleaning":
                self.cfg = cfg
            else:
                self.next_cfg = cfg
        self.stop_reason = reason
        if before not in ("starting", "running", "stopping", "cleaning"):
            self.history.clear()
        self.feed(Event("restart"))
        return "starting", f"{self.name} restarting"

    async def stop(self, *, reason: str = "operator") -> tuple[str, str]:
        """Stop; (outcome, message) telling the end state (or that a later start overrode it)."""
        before = self.m.phase
        self.stop_reason = reason
        self.feed(Event("stop"))
        if before == "stopped" and self.m.phase == "stopped":
            return "not_running", f"{self.name} is not running (stopped)"
        if before == "backoff":
            return "stopped", f"{self.name} stopped (pending restart cancelled)"
        if before in ("exited", "fatal"):
            return "stopped", f"{self.name} stopped (was {before})"

        def settled(m: Machine) -> dict[str, Any] | None:
            if m.intent == "run":
                return {"outcome": "overridden", "message": f"{self.name}: a later start won"}
            if m.phase in REST:
                how = self._kill_note
                return {"outcome": "stopped", "message": f"{self.name} stopped{how}"}
            return None

        result = await self._wait(settled)
        return result["outcome"], result["message"]

    @property
    def _kill_note(self) -> str:
        if not self._killed:
            return ""
        return f" (killed after {self.cfg.daemon.stop_timeout:g}s stop timeout)"

    @property
    def _stopped_message(self) -> str:
        if self.last_exit and self.last_exit.startswith("stopped by"):
            return f"{self.name} {self.last_exit}"
        return f"{self.name} stopped"

    # ------------------------------------------------------------------ process
    def _shown_argv(self) -> list[str]:
        """The argv for events: a value that came from `${VAR}` shows as `${VAR}` again (a
        command's key may sit in an argument; events are not redacted by the log sink)."""
        hidden = sorted(
            ((v, k) for k, v in self.cfg.ref_env.items() if len(v) >= MIN_SHOWN_HIDDEN),
            key=lambda item: -len(item[0]),
        )
        shown = []
        for arg in self.cfg.argv:
            for value, name in hidden:
                arg = arg.replace(value, f"${{{name}}}")
            shown.append(arg)
        return shown

    def _launch(self) -> None:
        if self.next_cfg is not None:
            self.cfg, self.next_cfg = self.next_cfg, None
        cfg = self.cfg
        env = dict(os.environ)
        env.update(cfg.ref_env)  # ${VAR} values of the command that started it (envlayers)
        env.update(cfg.env)
        # os.urandom, as secrets.token_hex does: `secrets` would load OpenSSL (3 MiB) via hmac.
        self.start_nonce = os.urandom(8).hex()
        env.update(
            {
                process.HOME_ENV: str(self.host.home),
                process.TAG_ENV: self.name,
                process.NONCE_ENV: self.start_nonce,
                "GRIDKEEPER_CONFIG": str(cfg.path),
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.stderr_tail.clear()
        self._generation += 1
        self._stop_deadline = None
        self._killed = False
        self.health = "unknown"
        self.health_failures = 0
        self.limits.reset()
        try:
            fifos = process.fifo_paths(self.host.run_dir, self.name)
            for path in fifos.values():
                process.ensure_fifo(path)
            self.host.watch_output(self)
            spawned = process.spawn(self.name, cfg.argv, cfg.cwd, env, fifos)
        except OSError as exc:
            self.pid = None
            self.last_exit_code = None
            self.last_exit = f"failed to start: {exc}"
            self._fatal_reason = f"cannot execute {cfg.argv[0]}: {exc}"
            self.stderr_tail.append(str(exc))
            self.feed(Event("spawn_failed"))
            return
        self.pid, self.identity, self.popen = spawned.pid, spawned.identity, spawned.popen
        self.adopted = False
        self.started_at = time.time()
        self.exit_future = asyncio.get_running_loop().create_future()
        self._emit("starting", f"{self.name} started as pid {self.pid}", argv=self._shown_argv())
        self.host.watch_death(self)
        self.feed(Event("spawned"))

    def adopt(
        self, pid: int, ident: str, started_at: float | None, desired: str = "running"
    ) -> None:
        """Take back a process a previous keeper started (same pid and start time). A stop the
        previous keeper did not finish is finished here."""
        self.pid, self.identity, self.popen = pid, ident, None
        self.start_nonce = process.start_nonce(pid)
        self.adopted = True
        self.started_at = started_at
        self._generation += 1
        self.exit_future = asyncio.get_running_loop().create_future()
        self.host.watch_output(self)
        self.m = Machine(phase="running", intent="run")
        self._record(lambda: self.host.persist(self))
        self._emit("adopted", f"{self.name} re-adopted (pid {pid})")
        self.host.watch_death(self)
        if desired == "stopped":
            self.stop_reason = "operator (stop resumed after a keeper restart)"
            self.feed(Event("stop"))

    def _expected_identity(self) -> Identity:
        """Who must answer the HTTP probe: this instance, from this start. Grid bots must say
        so; other programs are only held to it when their answer names an instance."""
        return Identity(self.name, self.start_nonce, required=self.cfg.grid_bot)

    async def contain_orphans(self) -> None:
        """Before a restart by a new keeper: kill whatever an earlier generation left behind
        (the old keeper may have died before it could)."""
        await self._contain(None, everywhere=True)

    async def _confirm_start(self, generation: int) -> None:
        await asyncio.sleep(self.cfg.daemon.startsecs)
        if generation != self._generation or self.m.phase != "starting":
            return
        check = self.cfg.health
        if check is not None:
            deadline = time.monotonic() + check.start_grace_s
            while True:
                ok, reason = await probe(check, self.cfg.cwd, self._expected_identity())
                if generation != self._generation or self.m.phase != "starting":
                    return
                if ok:
                    self.health = "healthy"
                    break
                if time.monotonic() >= deadline:
                    self.health = f"unhealthy: {reason}"
                    self._restart_for("start_failed", f"health probe never passed: {reason}")
                    return
                await asyncio.sleep(min(0.5, check.timeout_s))
        self.feed(Event("confirmed"))

    # ------------------------------------------------------------------ death
    def on_exit(self, exit: Exit) -> None:
        """The main process died (reaped by the supervisor or seen through a pidfd)."""
        if self.popen is not None:
            self.popen.returncode = exit.code if exit.code is not None else -(exit.signal or 0)
            self.popen = None
        if self.exit_future is not None and not self.exit_future.done():
            self.exit_future.set_result(exit)
        # From here on nothing may signal "the current pid": it is dead and may be reused.
        self._dead = (exit, self.pid)
        self.pid = None
        self.feed(Event("died"))

    async def _clean_up(self) -> None:
        """After a death: give a stop's survivors the rest of stop_timeout, kill what is left,
        then tell the machine what the restart policy wants."""
        exit, dead_pid = self._dead or (Exit(None), None)
        try:
            deadline = self._stop_deadline
            if deadline is not None:
                while self._survivors(dead_pid) and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                if self._survivors(dead_pid):
                    self._killed = True
            await self._contain(dead_pid, everywhere=self.adopted)
        except asyncio.CancelledError:
            raise  # the keeper is going away: start nothing
        except Exception as exc:
            self.host.task_failed(f"{self.name}: clean-up after a death", exc)
        self._after_death(exit)

    def _after_death(self, exit: Exit) -> None:
        cause = self.m.cause
        if cause in ("operator", "restart"):
            self.last_exit_code = exit.code
            self.last_exit = f"stopped by {self.stop_reason}{self._kill_note}"
            exit = Exit(exit.code, exit.signal, "operator")
        elif cause == "health" or cause == "memory" or cause == "cpu" or cause == "start_failed":
            exit = Exit(exit.code, exit.signal, cause)
        if cause not in ("operator", "restart"):
            self.last_exit_code = exit.code
            self.last_exit = policy.describe(exit)
        self._stop_deadline = None
        decision = policy.decide(self.cfg.daemon, exit, self.history, time.time())
        self._restart_delay = decision.delay
        self._fatal_reason = decision.reason
        self._dead = (exit, self._dead[1] if self._dead else None)
        self.feed(Event("cleaned", decision=decision.action))
        self.stop_reason = "operator"

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

    # Every signal names its process group explicitly (the leader's pid: each instance leads
    # its own session). Never "the current pid": after a death it may belong to the next run.
    def _signal_tree(self, pgid: int | None, sig: int) -> None:
        process.signal_tree(self.name, str(self.host.home), pgid, sig, everywhere=self.adopted)

    def _survivors(self, pgid: int | None) -> list[int]:
        return process.survivors(self.name, str(self.host.home), pgid, everywhere=self.adopted)

    async def _contain(self, pgid: int | None, *, everywhere: bool) -> None:
        """Kill everything a dead process left behind before anything new starts."""
        left = await process.contain(
            self.name, str(self.host.home), pgid, everywhere=everywhere, timeout=CONTAIN_TIMEOUT
        )
        if left:
            self._host_emit(
                self.name,
                "contain_failed",
                f"{self.name}: processes survive: {left}",
                {"pids": left},
            )

    # ------------------------------------------------------------------ probes and limits
    async def watch(self) -> None:
        """Probe health while the instance lives (one task per instance)."""
        while True:
            await asyncio.sleep(self.cfg.daemon.health_check_interval)
            if self.pid is not None and self.state == "running" and self.cfg.health:
                try:
                    await self._probe_once()
                except Exception as exc:  # logged; the next interval probes again
                    self.host.task_failed(f"{self.name}: health probe", exc)

    async def _probe_once(self) -> None:
        check = self.cfg.health
        assert check is not None
        generation = self._generation
        ok, reason = await probe(check, self.cfg.cwd, self._expected_identity())
        if generation != self._generation or self.state != "running":
            return
        if ok:
            if self.health_failures:
                self._host_emit(self.name, "health_recovered", f"{self.name} healthy again")
            self.health_failures = 0
            self.health = "healthy"
            return
        self.health_failures += 1
        self.health = f"failing ({self.health_failures}/{check.failures}): {reason}"
        if self.health_failures == 1:
            self._host_emit(
                self.name, "health_failing", f"{self.name}: {reason}", {"reason": reason}
            )
        if self.health_failures >= check.failures:
            self._restart_for("health", f"{check.failures} failed health probes: {reason}")

    def has_limits(self) -> bool:
        """Whether this instance has a memory or CPU limit the sampler must enforce."""
        d = self.cfg.daemon
        return d.memory_limit_mb is not None or d.cpu_limit_percent is not None

    def sample(self, usage: Usage | None, *, check_limits: bool) -> None:
        """Take the process tree's figures (the supervisor measures every instance in one /proc
        pass) and, for the timer's samples, count limit breaches."""
        if self.pid is None or self.state not in ("starting", "running") or usage is None:
            return
        self.rss_mb, self.cpu_percent = usage.rss_mb, usage.cpu_percent
        if not check_limits:
            return
        for breach in self.limits.observe(self.cfg.daemon, self.rss_mb, self.cpu_percent):
            self._host_emit(
                self.name,
                f"{breach.kind}_limit",
                f"{self.name}: {breach.message}",
                {"value": breach.value, "limit": breach.limit},
            )
            if breach.restart:
                self._restart_for(breach.kind, f"{breach.kind} limit exceeded")

    def cancel_tasks(self) -> None:
        self._cancel_restart()
        self._cancel_kill()
        for task in list(self._tasks):
            task.cancel()

    def _host_emit(
        self, name: str, kind: str, message: str, data: dict[str, Any] | None = None
    ) -> None:
        self._record(lambda: self.host.emit(name, kind, message, data))
