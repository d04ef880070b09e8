"""An instance's process: spawn it (its environment, its output pipes), adopt one a previous
keeper started, take its death, kill what it left behind, and tell the machine what the restart
policy wants next.

Deaths arrive from the supervisor (SIGCHLD for our children, a pidfd for adopted processes);
nothing here polls for a death.
"""

from __future__ import annotations

import asyncio
import os
import time

from gridkeeper.keeper import policy, process
from gridkeeper.keeper.instance_core import InstanceCore
from gridkeeper.keeper.machine import Event, Machine
from gridkeeper.keeper.policy import Exit

CONTAIN_TIMEOUT = 5.0
MIN_SHOWN_HIDDEN = 4  # shorter ${VAR} values (a port, a flag) are left as they are


class ProcessLife(InstanceCore):
    """The process half of an instance (see keeper/instance.py)."""

    @property
    def _kill_note(self) -> str:
        if not self._killed:
            return ""
        return f" (killed after {self.cfg.daemon.stop_timeout:g}s stop timeout)"

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

    async def contain_orphans(self) -> None:
        """Before a restart by a new keeper: kill whatever an earlier generation left behind
        (the old keeper may have died before it could)."""
        await self._contain(None, everywhere=True)

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
