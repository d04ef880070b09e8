"""One supervised instance: executes its state machine (keeper/machine.py), owns its process,
its probes and its limits.

The machine decides; this module only runs the actions it returns (spawn, signal, arm a timer,
contain leftovers, record an event), turns them into events and answers, and takes the
operator's commands (start, restart, stop). The instance is assembled from parts, each in its
own module: instance_core.py (fields, `feed`, records, waiters), instance_process.py (spawn,
adopt, death, containment), instance_probes.py (start confirmation, health probes, limits).
Timers are real timers.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

from gridkeeper.keeper import policy
from gridkeeper.keeper.instance_core import Host
from gridkeeper.keeper.instance_probes import ProbesAndLimits
from gridkeeper.keeper.instance_process import ProcessLife
from gridkeeper.keeper.machine import REST, Action, Event, Machine, State
from gridkeeper.keeper.policy import Exit
from gridkeeper.keeper.spec import InstanceSpec

__all__ = ["ACTIVE", "Host", "Instance", "State"]

ACTIVE: frozenset[str] = frozenset({"starting", "running", "stopping"})
KILL_RETRY = 5.0  # the keeper never forgets a process it has not seen die: SIGKILL again


class Instance(ProcessLife, ProbesAndLimits):
    """One supervised instance, as the supervisor and the socket API see it."""

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

    # ------------------------------------------------------------------ the machine's actions
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
    def _stopped_message(self) -> str:
        if self.last_exit and self.last_exit.startswith("stopped by"):
            return f"{self.name} {self.last_exit}"
        return f"{self.name} stopped"
