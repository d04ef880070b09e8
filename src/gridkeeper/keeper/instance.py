"""One supervised instance: its state machine, its process, its probes and its limits.

Deaths arrive from the supervisor (SIGCHLD for our children, a pidfd for adopted processes);
nothing here polls for a death. Timers are real timers: start seconds, backoff, probe interval.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import deque
from pathlib import Path
from typing import Any, Literal, Protocol

from gridkeeper.keeper import policy, process
from gridkeeper.keeper.health import probe
from gridkeeper.keeper.limits import LimitTracker
from gridkeeper.keeper.policy import Exit
from gridkeeper.keeper.spec import InstanceSpec

State = Literal["starting", "running", "backoff", "stopping", "stopped", "exited", "fatal"]
ACTIVE: frozenset[str] = frozenset({"starting", "running", "stopping"})
TAIL_LINES = 20
CONTAIN_TIMEOUT = 5.0


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


class Instance:
    def __init__(self, cfg: InstanceSpec, host: Host) -> None:
        self.cfg = cfg
        self.host = host
        self.state: State = "stopped"
        self.desired: Literal["running", "stopped"] = "stopped"
        self.pid: int | None = None
        self.identity: str | None = None
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
        self.pending_cause: policy.Exit | None = None
        self._restart_handle: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._waiters: list[asyncio.Future[dict[str, Any]]] = []
        self._generation = 0
        self._stopping = False
        self._cleanup: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.cfg.name

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        now = time.time()
        running = self.state in ("starting", "running", "stopping") and self.started_at
        return {
            "name": self.name,
            "state": self.state,
            "pid": self.pid,
            "started_at": self.started_at,
            "uptime_s": round(now - self.started_at, 1) if running and self.started_at else None,
            "restarts": self.restarts,
            "last_exit_code": self.last_exit_code,
            "last_exit": self.last_exit,
            "cpu_percent": round(self.cpu_percent, 1) if self.pid else 0.0,
            "rss_mb": round(self.rss_mb, 1) if self.pid else 0.0,
            "health": self.health if self.cfg.health is not None else None,
            "port": self.cfg.web_port,
            "config": str(self.cfg.path),
            "log_dir": str(self.cfg.log_dir(self.host.home)),
            "adopted": self.adopted,
        }

    def _set(self, state: State, kind: str | None = None, message: str = "", **data: Any) -> None:
        self.state = state
        self.host.persist(self)
        if kind:
            self.host.emit(self.name, kind, message, {"state": state, "pid": self.pid, **data})

    def _spawn_task(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ start
    def start(self, *, operator: bool = True) -> tuple[str, str]:
        """Ask for the instance to run; (outcome, message)."""
        self.desired = "running"
        if self.state == "starting":
            # The caller waits on wait_settled() like the first starter does.
            return "starting", f"{self.name} is already starting (pid {self.pid})"
        if self.state == "running":
            return "already_running", f"{self.name} is already running (pid {self.pid})"
        if self.state == "stopping" or self.cleaning:
            return "failed", f"{self.name} is stopping; try again when it has stopped"
        if operator:
            self.history.clear()
        self._cancel_restart()
        self._launch()
        return "starting", f"{self.name} starting (pid {self.pid})"

    @property
    def cleaning(self) -> bool:
        """The last process died and what it left behind is still being killed."""
        return self._cleanup is not None and not self._cleanup.done()

    async def idle(self) -> None:
        """Wait until no post-death clean-up is running (start and stop wait for it)."""
        while self._cleanup is not None and not self._cleanup.done():
            await asyncio.shield(self._cleanup)

    def wait_settled(self) -> asyncio.Future[dict[str, Any]]:
        """A future resolved when this start attempt is running or has failed."""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if self.state == "running":
            fut.set_result(self._outcome("running", f"{self.name} running (pid {self.pid})"))
        elif self.state in ("fatal", "exited", "stopped") and not self._waiters:
            fut.set_result(self._outcome("failed", f"{self.name} {self.state}: {self.last_exit}"))
        else:
            self._waiters.append(fut)
        return fut

    def _outcome(self, outcome: str, message: str) -> dict[str, Any]:
        result: dict[str, Any] = {"name": self.name, "outcome": outcome, "message": message}
        if outcome == "failed":
            result["stderr"] = list(self.stderr_tail)
        return result

    def _settle(self, outcome: str, message: str) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(self._outcome(outcome, message))

    def _launch(self) -> None:
        cfg = self.cfg
        env = dict(os.environ)
        env.update(cfg.env)
        env.update(
            {
                process.HOME_ENV: str(self.host.home),
                process.TAG_ENV: self.name,
                "GRIDKEEPER_CONFIG": str(cfg.path),
                "PYTHONUNBUFFERED": "1",
            }
        )
        fifos = process.fifo_paths(self.host.run_dir, self.name)
        for path in fifos.values():
            process.ensure_fifo(path)
        self.host.watch_output(self)
        self.stderr_tail.clear()
        self.pending_cause = None
        self._generation += 1
        self.health = "unknown"
        self.health_failures = 0
        self.limits.reset()
        try:
            spawned = process.spawn(self.name, cfg.argv, cfg.cwd, env, fifos)
        except OSError as exc:
            self.pid = None
            self.last_exit_code = None
            self.last_exit = f"failed to start: {exc}"
            self.stderr_tail.append(str(exc))
            self._set("fatal", "fatal", f"cannot execute {cfg.argv[0]}: {exc}")
            self._settle("failed", self.last_exit)
            return
        self.pid, self.identity, self.popen = spawned.pid, spawned.identity, spawned.popen
        self.adopted = False
        self.started_at = time.time()
        self.exit_future = asyncio.get_running_loop().create_future()
        self._set(
            "starting", "starting", f"{self.name} started as pid {self.pid}", argv=list(cfg.argv)
        )
        self.host.watch_death(self)
        self._spawn_task(self._confirm_start(self._generation))

    def adopt(
        self, pid: int, ident: str, started_at: float | None, desired: str = "running"
    ) -> None:
        """Take back a process a previous keeper started (same pid and start time). A stop the
        previous keeper did not finish is finished here."""
        self.desired = "stopped" if desired == "stopped" else "running"
        self.pid, self.identity, self.popen = pid, ident, None
        self.adopted = True
        self.started_at = started_at
        self._generation += 1
        self.exit_future = asyncio.get_running_loop().create_future()
        self.host.watch_output(self)
        self.state = "running"
        self.host.persist(self)
        self.host.emit(self.name, "adopted", f"{self.name} re-adopted (pid {pid})", {"pid": pid})
        self.host.watch_death(self)
        if self.desired == "stopped":
            self._spawn_task(self.stop(reason="operator (stop resumed after a keeper restart)"))

    async def contain_orphans(self) -> None:
        """Before a restart by a new keeper: kill whatever an earlier generation left behind
        (the old keeper may have died before it could)."""
        await self._contain(None, everywhere=True)

    async def _confirm_start(self, generation: int) -> None:
        await asyncio.sleep(self.cfg.daemon.startsecs)
        if generation != self._generation or self.state != "starting":
            return
        check = self.cfg.health
        if check is not None:
            deadline = time.monotonic() + check.start_grace_s
            while True:
                ok, reason = await probe(check, self.cfg.cwd)
                if generation != self._generation or self.state != "starting":
                    return
                if ok:
                    self.health = "healthy"
                    break
                if time.monotonic() >= deadline:
                    self.health = f"unhealthy: {reason}"
                    self._restart_for("start_failed", f"health probe never passed: {reason}")
                    return
                await asyncio.sleep(min(0.5, check.timeout_s))
        self._set("running", "running", f"{self.name} running (pid {self.pid})")
        self._settle("running", f"{self.name} running (pid {self.pid})")

    # ------------------------------------------------------------------ death
    def on_exit(self, exit: Exit) -> None:
        """The main process died (reaped by the supervisor or seen through a pidfd)."""
        if self.popen is not None:
            self.popen.returncode = exit.code if exit.code is not None else -(exit.signal or 0)
            self.popen = None
        cause = self.pending_cause
        self.pending_cause = None
        if self.exit_future is not None and not self.exit_future.done():
            self.exit_future.set_result(exit)
        if self._stopping:
            return  # stop() owns what follows
        if cause is not None:
            exit = Exit(exit.code, exit.signal, cause.cause)
        dead_pid, generation = self.pid, self._generation
        # From here on nothing may signal "the current pid": it is dead and may be reused.
        self.pid = None
        self._cleanup = asyncio.get_running_loop().create_task(
            self._after_death(exit, dead_pid, generation)
        )

    async def _after_death(self, exit: Exit, dead_pid: int | None, generation: int) -> None:
        await self._contain(dead_pid, everywhere=self.adopted)
        if generation != self._generation:
            return
        self.last_exit_code = exit.code
        self.last_exit = policy.describe(exit)
        self.host.emit(
            self.name,
            "exited" if exit.success else "crashed",
            f"{self.name} (pid {dead_pid}) {self.last_exit}",
            {"pid": dead_pid, "code": exit.code, "signal": exit.signal, "cause": exit.cause},
        )
        now = time.time()
        decision = policy.decide(self.cfg.daemon, exit, self.history, now)
        if self.desired == "stopped":
            decision = policy.Decision("stopped", reason="stop requested")
        if decision.action == "restart":
            self.history.append(now)
            self.restarts += 1
            self._set(
                "backoff",
                "backoff",
                f"{self.name} restarts in {decision.delay:.2f}s",
                delay=decision.delay,
                attempt=len(policy.recent(self.history, now, self.cfg.daemon.restart_window_s)),
            )
            self._settle("failed", f"{self.name} {self.last_exit}")
            loop = asyncio.get_running_loop()
            self._restart_handle = loop.call_later(decision.delay, self._restart_due)
        elif decision.action == "fatal":
            self._set(
                "fatal", "fatal", f"{self.name} gave up: {decision.reason}", reason=decision.reason
            )
            self._settle("failed", f"{self.name} fatal: {decision.reason}")
        elif decision.action == "exited":
            self._set("exited", None)
            self._settle("failed", f"{self.name} {self.last_exit}")
        else:
            self._set("stopped", "stopped", f"{self.name} stopped")
            self._settle("failed", f"{self.name} stopped")

    def _restart_due(self) -> None:
        self._restart_handle = None
        if self.state == "backoff" and self.desired == "running":
            self._launch()

    def _cancel_restart(self) -> None:
        if self._restart_handle is not None:
            self._restart_handle.cancel()
            self._restart_handle = None

    def _restart_for(
        self, cause: Literal["health", "memory", "cpu", "start_failed"], why: str
    ) -> None:
        """Kill the current process tree; its death then follows the restart policy."""
        if self.pid is None or self.state not in ("starting", "running"):
            return
        self.pending_cause = Exit(None, None, cause)
        self.host.emit(self.name, "restarting", f"{self.name}: {why}", {"cause": cause})
        self._spawn_task(self._terminate_for_restart(self.pid))

    async def _terminate_for_restart(self, pid: int) -> None:
        fut = self.exit_future
        self._signal_tree(pid, signal.SIGTERM)
        if fut is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(fut), self.cfg.daemon.stop_timeout)
        except TimeoutError:
            self._signal_tree(pid, signal.SIGKILL)

    # ------------------------------------------------------------------ stop
    async def stop(self, *, reason: str = "operator") -> tuple[str, str]:
        self.desired = "stopped"
        self._cancel_restart()
        await self.idle()
        self._cancel_restart()
        if self.state == "backoff":
            self._set("stopped", "stopped", f"{self.name} stopped (pending restart cancelled)")
            return "stopped", f"{self.name} stopped (pending restart cancelled)"
        if self.pid is None or self.state not in ACTIVE:
            if self.state in ("fatal", "exited"):
                # The operator has seen it: a stopped instance ends its alerts.
                was = self.state
                self._set("stopped", "stopped", f"{self.name} stopped (was {was})")
                return "stopped", f"{self.name} stopped (was {was})"
            self.state = "stopped"
            self.host.persist(self)
            return "not_running", f"{self.name} is not running ({self.state})"
        if self._stopping:
            assert self.exit_future is not None
            await asyncio.shield(self.exit_future)
            return "stopped", f"{self.name} stopped"
        self._stopping = True
        pid = self.pid
        self._set("stopping", "stopping", f"{self.name} stopping (pid {pid})")
        killed = False
        try:
            self._signal_tree(pid, signal.SIGTERM)
            deadline = time.monotonic() + self.cfg.daemon.stop_timeout
            fut = self.exit_future
            assert fut is not None
            try:
                await asyncio.wait_for(asyncio.shield(fut), self.cfg.daemon.stop_timeout)
                while self._survivors(pid) and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
            except TimeoutError:
                pass
            if not fut.done() or self._survivors(pid):
                killed = True
                self._signal_tree(pid, signal.SIGKILL)
            # The keeper never forgets a process it has not seen die.
            while not fut.done():
                try:
                    await asyncio.wait_for(asyncio.shield(fut), 5)
                except TimeoutError:
                    self._signal_tree(pid, signal.SIGKILL)
            exit = fut.result()
            await self._contain(pid, everywhere=self.adopted)
        finally:
            self._stopping = False
        self.pid = None
        self.last_exit_code = exit.code
        how = f" (killed after {self.cfg.daemon.stop_timeout:g}s stop timeout)" if killed else ""
        self.last_exit = f"stopped by {reason}{how}"
        self._set("stopped", "stopped", f"{self.name} (pid {pid}) {self.last_exit}", killed=killed)
        self._settle("failed", f"{self.name} stopped")
        return "stopped", f"{self.name} stopped{how}"

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
            self.host.emit(
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
                await self._probe_once()

    async def _probe_once(self) -> None:
        check = self.cfg.health
        assert check is not None
        generation = self._generation
        ok, reason = await probe(check, self.cfg.cwd)
        if generation != self._generation or self.state != "running":
            return
        if ok:
            if self.health_failures:
                self.host.emit(self.name, "health_recovered", f"{self.name} healthy again")
            self.health_failures = 0
            self.health = "healthy"
            return
        self.health_failures += 1
        self.health = f"failing ({self.health_failures}/{check.failures}): {reason}"
        if self.health_failures == 1:
            self.host.emit(
                self.name, "health_failing", f"{self.name}: {reason}", {"reason": reason}
            )
        if self.health_failures >= check.failures:
            self._restart_for("health", f"{check.failures} failed health probes: {reason}")

    def sample(self, kids: dict[int, list[int]]) -> None:
        """Measure the process tree and count limit breaches (the supervisor's sampler calls
        this for every live instance with one shared /proc scan)."""
        if self.pid is None or self.state not in ("starting", "running"):
            return
        self.rss_mb, self.cpu_percent = process.tree_usage(self.pid, kids)
        for breach in self.limits.observe(self.cfg.daemon, self.rss_mb, self.cpu_percent):
            self.host.emit(
                self.name,
                f"{breach.kind}_limit",
                f"{self.name}: {breach.message}",
                {"value": breach.value, "limit": breach.limit},
            )
            if breach.restart:
                self._restart_for(breach.kind, f"{breach.kind} limit exceeded")

    def cancel_tasks(self) -> None:
        self._cancel_restart()
        if self._cleanup is not None:
            self._cleanup.cancel()
        for task in list(self._tasks):
            task.cancel()
