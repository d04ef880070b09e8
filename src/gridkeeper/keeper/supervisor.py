"""The supervisor: owns every instance, reaps children, routes output to the log sink, resolves
configs, and answers the socket API's operations.

What it records (events, instance rows, task failures) is keeper/journal.py's; its resource
samples are keeper/resources.py's; taking over from a previous keeper at start is
keeper/restore.py's."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from gridkeeper.errors import ConfigError, GridkeeperError
from gridkeeper.keeper import heap, process
from gridkeeper.keeper.instance import Instance
from gridkeeper.keeper.journal import EventJournal
from gridkeeper.keeper.names import BUILTINS, ApiError
from gridkeeper.keeper.output import OutputRouter, Sink
from gridkeeper.keeper.policy import Exit
from gridkeeper.keeper.process import exit_from_status
from gridkeeper.keeper.resources import ResourceSampling
from gridkeeper.keeper.sampling import Sampler
from gridkeeper.keeper.sdnotify import notify
from gridkeeper.keeper.spec import (
    InstanceSpec,
    Resolution,
    SettingsSpec,
    check_unique,
    resolve_async,
)
from gridkeeper.keeper.state import StateStore

TRIM_AFTER = 2.0  # seconds after the last busy operation, freed memory goes back (heap.py)
QUIET_OPS = frozenset({"ping", "status", "events", "subscribe"})  # allocate next to nothing


class Operations(Protocol):
    """The socket API's operations (gridkeeper.keeper.api.Api), as the supervisor uses them.
    Given to the supervisor by whoever builds it, so the supervisor never imports the API."""

    async def handle(self, op: str, args: dict[str, Any]) -> Any: ...

    async def op_reload(
        self, dry_run: bool = False, env: dict[str, str] | None = None
    ) -> dict[str, list[str]]: ...


class Supervisor(EventJournal, ResourceSampling):
    def __init__(
        self,
        home: Path,
        settings_path: Path | None,
        sink: Sink,
        log: Any,
        first: Resolution,
        api: Callable[[Supervisor], Operations],
    ) -> None:
        self.home = home
        self.run_dir = home / "run"
        self.run_dir.mkdir(mode=0o700, exist_ok=True)
        self.settings_path = settings_path
        self.settings: SettingsSpec = first.settings
        self.monitor_spec: InstanceSpec | None = first.monitor
        self.web_spec: InstanceSpec | None = first.web
        self.sink = sink
        self.log = log
        self.store = StateStore(home / "state.db")
        self.instances: dict[str, Instance] = {}
        self.started_at = time.time()
        self.started_by: str | None = None  # e.g. "monitor (pid N)" when the monitor restarted us
        self.done = asyncio.Event()
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._by_pid: dict[int, Instance] = {}
        self.output = OutputRouter(self.run_dir, self._line)
        self._pidfds: dict[str, int] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self.shutting_down = False
        self.store_degraded = False  # state.db could not be written (shown by status)
        self.task_failures = 0
        self._unsaved: set[str] = set()
        self._unwritten_events: list[tuple[str, str, str, dict[str, Any] | None]] = []
        self._dropped_events = 0
        self._catch_up: asyncio.Task[Any] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sampler: asyncio.Task[None] | None = None
        self._usage = Sampler()
        self._limits_changed = asyncio.Event()  # an instance was registered: look again
        self._trim: asyncio.TimerHandle | None = None
        self._sampled_at = 0.0
        self.api = api(self)

    # ------------------------------------------------------------------ Host protocol
    # (emit, persist and task_failed come from EventJournal)
    def watch_output(self, inst: Instance) -> None:
        self.output.watch(inst.name)

    def watch_death(self, inst: Instance) -> None:
        assert inst.pid is not None
        if inst.popen is not None:
            self._by_pid[inst.pid] = inst
            return
        fd = process.pidfd(inst.pid)
        if fd is None:
            inst.on_exit(Exit(None))
            return
        self._pidfds[inst.name] = fd
        asyncio.get_running_loop().add_reader(fd, self._on_pidfd, inst, fd, inst.pid)

    # ------------------------------------------------------------------ I/O callbacks
    def _line(self, name: str, stream: process.Stream, line: bytes) -> None:
        self.sink.submit(name, stream, line)
        inst = self.instances.get(name)
        if stream == "stderr" and inst is not None:
            inst.stderr_tail.append(line.decode("utf-8", "replace")[:500])

    def _on_pidfd(self, inst: Instance, fd: int, pid: int) -> None:
        asyncio.get_running_loop().remove_reader(fd)
        os.close(fd)
        self._pidfds.pop(inst.name, None)
        if inst.pid == pid:
            inst.on_exit(Exit(None))

    def reap(self) -> None:
        """SIGCHLD: collect every dead child (we are a subreaper: orphans land here too)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            inst = self._by_pid.pop(pid, None)
            if inst is not None and inst.pid == pid:
                inst.on_exit(exit_from_status(status))

    # ------------------------------------------------------------------ registry
    def register(self, cfg: InstanceSpec) -> Instance:
        inst = self.instances.get(cfg.name)
        if inst is None:
            inst = Instance(cfg, self)
            self.instances[cfg.name] = inst
            self._watchers[cfg.name] = self.spawn_task(inst.watch(), f"{cfg.name}: health probes")
        elif inst.pid is None:
            inst.cfg = cfg
        self._limits_changed.set()
        self.add_redactions(cfg.secrets)
        place = getattr(self.sink, "set_instance_dir", None)
        if place is not None:
            place(cfg.name, cfg.log_dir(self.home))
        keep = getattr(self.sink, "set_instance_retention", None)
        if keep is not None:  # the instance's own log_retention_days / log_cleanup_interval
            keep(cfg.name, cfg.daemon.log_retention_days, cfg.daemon.log_cleanup_interval)
        return inst

    def add_redactions(self, secrets: Iterable[str]) -> None:
        values = [s for s in secrets if s]
        self.output.secrets |= {s.encode() for s in values}
        add = getattr(self.sink, "add_redactions", None)
        if add is not None:
            add(values)

    def forget(self, name: str) -> None:
        if name in self.instances:
            self.emit(name, "removed", f"{name} removed (its config is gone)", {"reason": "reload"})
        inst = self.instances.pop(name, None)
        if inst is not None:
            inst.cancel_tasks()
        task = self._watchers.pop(name, None)
        if task is not None:
            task.cancel()
        self.store.forget(name)

    async def resolve_configs(
        self,
        files: Iterable[str] = (),
        *,
        defaults: bool = False,
        env: dict[str, str] | None = None,
        kept: dict[str, dict[str, str]] | None = None,
    ) -> Resolution:
        """Configs are read by the config package in its own short-lived process, with the
        environment of the command that asked (`env`) and what each known instance resolved
        last time (kept for a command whose shell lacks a variable)."""
        if kept is None:
            kept = {str(i.cfg.path): i.cfg.kept_env for i in self.instances.values()}
        result = await resolve_async(
            self.settings_path,
            list(files),
            defaults=defaults,
            home=self.home,
            command_env=env,
            kept=kept,
        )
        self.add_redactions(result.settings.secrets)
        return result

    @staticmethod
    def strict(result: Resolution) -> list[InstanceSpec]:
        """For start: one bad file starts nothing."""
        if result.errors:
            # A file can be asked for twice (a known instance's path and the active directory):
            # say each problem once.
            messages = dict.fromkeys(message for _, message in result.errors)
            raise ConfigError("\n".join(messages))
        return result.instances

    async def default_configs(self, env: dict[str, str] | None = None) -> list[InstanceSpec]:
        """No target: the settings file's legacy program, else every active instance file."""
        result = await self.resolve_configs(defaults=True, env=env)
        configs = self.strict(result)
        if not configs:
            folder = result.settings.instances_dir
            raise ApiError("config", f"no instances to start: no *.json in {folder}")
        return configs

    async def load(
        self, paths: Iterable[str], env: dict[str, str] | None = None
    ) -> list[InstanceSpec]:
        """Load every config first: one bad file starts nothing."""
        configs = self.strict(await self.resolve_configs(paths, env=env))
        check_unique(configs)
        new = {c.name for c in configs}
        others = [i.cfg for i in self.instances.values() if i.name not in new]
        for cfg in configs:
            inst = self.instances.get(cfg.name)
            if inst is not None and inst.cfg.path != cfg.path:
                raise ConfigError(
                    f"instance {cfg.name!r} already exists from {inst.cfg.path}",
                    file=str(cfg.path),
                    loc="metadata.instance_id",
                )
            check_unique([*others, cfg])
        return configs

    def named(self, names: Iterable[str]) -> list[Instance]:
        found = []
        for name in names:
            inst = self.instances.get(name)
            if inst is None:
                raise ApiError("not_found", f"no instance named {name!r}")
            found.append(inst)
        return found

    def by_config(self, paths: Iterable[str]) -> list[Instance]:
        found = []
        for path in paths:
            resolved = str(Path(path).resolve())
            match = [i for i in self.instances.values() if str(i.cfg.path) == resolved]
            if not match:
                raise ApiError("not_found", f"no instance runs from {resolved}")
            found += match
        return found

    # ------------------------------------------------------------------ resource samples
    def after_restore(self) -> None:
        """Once restore (keeper/restore.py) has registered every instance: start the resource
        sampler and give freed memory back soon."""
        self._sampler = self.spawn_task(self._sample_forever(), "resource sampler")
        self.trim_soon()

    # ------------------------------------------------------------------ operations
    async def handle(self, op: str, args: dict[str, Any]) -> Any:
        """One socket API request (see gridkeeper.keeper.api)."""
        try:
            return await self.api.handle(op, args)
        finally:
            if op not in QUIET_OPS:
                self.trim_soon()

    def trim_soon(self) -> None:
        """Return freed memory to the system once things have been quiet for TRIM_AFTER s."""
        if self._trim is not None:
            self._trim.cancel()
        self._trim = asyncio.get_running_loop().call_later(TRIM_AFTER, heap.trim)

    # ------------------------------------------------------------------ life
    async def shutdown(self, *, stop_instances: bool, resume: bool = False) -> None:
        """Stop (or leave running) every instance, then end the keeper. `resume`: the system
        stops us (SIGTERM: systemd, a reboot, `docker stop`), not the operator, so the
        instances wanted running are saved as still wanted and the next keeper starts them."""
        if self.shutting_down:
            return
        self.shutting_down = True
        notify("STOPPING=1")
        wanted = (
            {
                n
                for n, i in self.instances.items()
                if i.desired == "running"
                and i.state not in ("fatal", "exited")
                and n not in BUILTINS
            }
            if resume
            else set()
        )
        self.emit(
            "keeper",
            "keeper_stopping",
            "keeper stopping"
            + (" with its instances" if stop_instances else "; instances keep running"),
        )
        try:
            if stop_instances:
                # return_exceptions: one instance's failure must not leave the others running
                # or the keeper unable to exit.
                results = await asyncio.gather(
                    *(i.stop(reason="keeper shutdown") for i in self.instances.values()),
                    return_exceptions=True,
                )
                for result in results:
                    if isinstance(result, BaseException):
                        self.task_failed("stopping an instance at shutdown", result)
                for name in wanted:
                    inst = self.instances[name]
                    inst.desired = "running"  # state stays `stopped`: restore() resumes it
                    self.persist(inst)
        finally:
            self._finish_shutdown()

    def _finish_shutdown(self) -> None:
        for inst in self.instances.values():
            inst.cancel_tasks()
        for task in self._watchers.values():
            task.cancel()
        if self._sampler is not None:
            self._sampler.cancel()
        if self._trim is not None:
            self._trim.cancel()
        self.flush_store()  # a last try: space may have come back
        if self._catch_up is not None:
            self._catch_up.cancel()
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self.done.set()

    def install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGCHLD, self.reap)
        # SIGTERM comes from the system (systemd stop, a reboot, docker stop): the instances come
        # back with the next keeper. SIGINT is an operator's Ctrl-C: they stay stopped.
        loop.add_signal_handler(
            signal.SIGTERM,
            lambda: self.spawn_task(self.shutdown(stop_instances=True, resume=True), "shutdown"),
        )
        loop.add_signal_handler(
            signal.SIGINT, lambda: self.spawn_task(self.shutdown(stop_instances=True), "shutdown")
        )
        # SIGUSR2: leave the instances running (an upgrade); the next keeper re-adopts them.
        loop.add_signal_handler(
            signal.SIGUSR2,
            lambda: self.spawn_task(self.shutdown(stop_instances=False), "shutdown"),
        )
        loop.add_signal_handler(
            signal.SIGHUP, lambda: self.spawn_task(self._reload_logged(), "reload")
        )

    async def _reload_logged(self) -> None:
        try:
            report = await self.api.op_reload()
            self.emit("keeper", "reloaded", f"reload: {report}")
        except GridkeeperError as exc:
            self.emit("keeper", "reload_failed", f"reload failed: {exc}")
