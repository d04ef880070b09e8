"""The supervisor: owns every instance, reaps children, routes output to the log sink, records
events, and answers the socket API's operations."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import orjson

from gridkeeper.errors import ConfigError, GridkeeperError
from gridkeeper.keeper import heap, process
from gridkeeper.keeper.instance import Instance
from gridkeeper.keeper.names import BUILTINS, LEGACY, MONITOR, WEB, ApiError
from gridkeeper.keeper.output import OutputRouter, Sink
from gridkeeper.keeper.policy import Exit
from gridkeeper.keeper.process import exit_from_status
from gridkeeper.keeper.sampling import Sampler
from gridkeeper.keeper.sdnotify import notify
from gridkeeper.keeper.spec import (
    InstanceSpec,
    Resolution,
    SettingsSpec,
    check_unique,
    instance_from_wire,
    instance_to_wire,
    resolve_async,
)
from gridkeeper.keeper.state import StateStore

SUBSCRIBER_QUEUE = 10_000
SAMPLE_EVERY = 5.0  # with a memory or CPU limit to enforce
IDLE_RECHECK = 30.0  # no limits: look again this often whether one appeared (a reload)
FRESH_ENOUGH = 1.0  # status reuses a sample this young
TRIM_AFTER = 2.0  # seconds after the last busy operation, freed memory goes back (heap.py)
QUIET_OPS = frozenset({"ping", "status", "events", "subscribe"})  # allocate next to nothing
CATCH_UP_EVERY = 1.0
MAX_UNWRITTEN = 10_000  # events kept in memory while the store cannot write
# What a state store that cannot write raises (a full disk: "database or disk is full").
STORE_ERRORS = (sqlite3.Error, OSError)


class Operations(Protocol):
    """The socket API's operations (gridkeeper.keeper.api.Api), as the supervisor uses them.
    Given to the supervisor by whoever builds it, so the supervisor never imports the API."""

    async def handle(self, op: str, args: dict[str, Any]) -> Any: ...

    async def op_reload(
        self, dry_run: bool = False, env: dict[str, str] | None = None
    ) -> dict[str, list[str]]: ...


class Supervisor:
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
    def emit(
        self, instance: str, kind: str, message: str, data: dict[str, Any] | None = None
    ) -> None:
        """Record an event and hand it to subscribers. A store that cannot write (a full disk)
        never stops the caller: the event waits in memory and is written when space returns."""
        level = "error" if kind in ("crashed", "fatal", "contain_failed") else "info"
        self._log(level, message, name=instance, kind=kind, **(data or {}))
        if self._unwritten_events:
            self._queue_event(instance, kind, message, data)  # keep the order
            return
        try:
            event = self.store.add_event(instance, kind, message, data)
        except STORE_ERRORS as exc:
            self._store_failed(exc)
            self._queue_event(instance, kind, message, data)
            return
        self._publish(event)

    def _log(self, level: str, message: str, **fields: Any) -> None:
        with contextlib.suppress(Exception):  # the log sink never raises, but be sure
            getattr(self.log, level)(message, **fields)

    def _queue_event(
        self, instance: str, kind: str, message: str, data: dict[str, Any] | None
    ) -> None:
        if len(self._unwritten_events) >= MAX_UNWRITTEN:
            self._dropped_events += 1
            return
        self._unwritten_events.append((instance, kind, message, data))

    def _store_failed(self, exc: BaseException) -> None:
        if not self.store_degraded:
            self._log("error", "state store cannot write; acting anyway", error=str(exc))
        self.store_degraded = True
        self._ensure_catch_up()

    def _ensure_catch_up(self) -> None:
        if self._catch_up is None or self._catch_up.done():
            self._catch_up = self.spawn_task(self._catch_up_loop(), "state store catch-up")

    async def _catch_up_loop(self) -> None:
        """Write what could not be written, once a second, until everything is on disk."""
        while self.store_degraded:
            await asyncio.sleep(CATCH_UP_EVERY)
            self.flush_store()

    def flush_store(self) -> bool:
        """Write the instances and events a failing store left in memory; True when done."""
        try:
            for name in sorted(self._unsaved):
                inst = self.instances.get(name)
                if inst is not None:
                    self._save(inst)
                self._unsaved.discard(name)
            while self._unwritten_events:
                event = self.store.add_event(*self._unwritten_events[0])
                self._unwritten_events.pop(0)
                self._publish(event)
            if self._dropped_events:
                event = self.store.add_event(
                    "keeper",
                    "events_lost",
                    f"{self._dropped_events} events were lost while the state store could "
                    "not write",
                    {"count": self._dropped_events},
                )
                self._dropped_events = 0
                self._publish(event)
        except STORE_ERRORS:
            return False
        if self.store_degraded:
            self.store_degraded = False
            self._log("info", "state store writes again; caught up")
        return True

    def spawn_task(self, coro: Any, what: str) -> asyncio.Task[Any]:
        """A background task whose failure is logged, never lost."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                exc = t.exception()
                assert exc is not None
                self.task_failed(what, exc)

        task.add_done_callback(done)
        return task

    def task_failed(self, what: str, exc: BaseException) -> None:
        """Every background failure lands here: logged with its traceback, counted, and for
        the store, retried by the catch-up loop."""
        self.task_failures += 1
        if isinstance(exc, STORE_ERRORS):
            self._store_failed(exc)
            return
        self._log("error", f"{what} failed", exc_info=exc)

    def _publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # A subscriber that cannot keep up is cut off (its connection closes at the end
                # marker) and catches up from the state file when it reconnects with since_seq.
                self._subscribers.discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)

    def persist(self, inst: Instance) -> None:
        """Save an instance's row; on a failing store, remember it for the catch-up loop."""
        if self.store_degraded:
            self._unsaved.add(inst.name)
            self._ensure_catch_up()
            return
        try:
            self._save(inst)
        except STORE_ERRORS as exc:
            self._unsaved.add(inst.name)
            self._store_failed(exc)

    def _save(self, inst: Instance) -> None:
        self.store.save(
            inst.name,
            config=str(inst.cfg.path),
            desired=inst.desired,
            pid=inst.pid,
            identity=inst.identity if inst.pid else None,
            started_at=inst.started_at,
            restarts=inst.restarts,
            last_exit_code=inst.last_exit_code,
            last_exit=inst.last_exit,
            state=inst.state,
            # The config the process runs with, so a keeper restart can adopt it even when the
            # file changed or vanished meanwhile. Secrets stay out of the state file.
            spec=orjson.dumps({**instance_to_wire(inst.cfg), "secrets": []}).decode(),
            history=orjson.dumps(inst.history).decode(),
        )

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

    # ------------------------------------------------------------------ restore
    async def restore(self) -> None:
        """Re-adopt what a previous keeper left running (even if its config file changed or
        vanished since: the state file holds the config it runs with); restart what died while
        no keeper watched, after killing what it left behind; leave fatal, exited and stopped
        instances as they were. Then run the built-in monitor (alerts with no second terminal;
        it talks to us through the socket like any client)."""
        home = str(self.home)
        rows = self.store.instances()
        wanted = [
            r.config for r in rows if r.name not in (*BUILTINS, LEGACY) and Path(r.config).exists()
        ]
        # What the last start command resolved stays in force across a keeper restart.
        kept = {
            str(r.config): dict(r.spec.get("kept_env") or {}) for r in rows if r.spec is not None
        }
        result = await self.resolve_configs(wanted, kept=kept) if wanted else None
        fresh = {c.name: c for c in result.instances} if result else {}
        if rows and any(r.name == LEGACY for r in rows):
            fresh.update(
                {
                    c.name: c
                    for c in (await self.resolve_configs(defaults=True, kept=kept)).instances
                    if c.name == LEGACY
                }
            )
        for file, message in result.errors if result else []:
            self.emit("keeper", "config_error", f"cannot read {file}: {message}")
        builtins = {MONITOR: self.monitor_spec, WEB: self.web_spec}
        for saved in rows:
            stored = instance_from_wire(saved.spec) if saved.spec else None
            alive = saved.pid is not None and process.same_process(
                saved.pid, saved.identity, saved.name, home
            )
            if saved.name in builtins:
                spec = builtins[saved.name]
                if alive and spec is not None:
                    assert saved.pid is not None and saved.identity is not None
                    self.register(spec).adopt(saved.pid, saved.identity, saved.started_at)
                continue
            # A live process keeps the config it was started with; a restart takes the file.
            cfg = (stored or fresh.get(saved.name)) if alive else (fresh.get(saved.name) or stored)
            if cfg is None:
                self.emit(saved.name, "config_error", f"{saved.name}: no config to restore from")
                continue
            inst = self.register(cfg)
            if saved.name in fresh:  # the stored spec keeps no secrets: redact today's
                self.add_redactions(fresh[saved.name].secrets)
            inst.restarts = saved.restarts
            inst.history = list(saved.history)
            inst.last_exit_code, inst.last_exit = saved.last_exit_code, saved.last_exit
            if alive:
                assert saved.pid is not None and saved.identity is not None
                inst.adopt(saved.pid, saved.identity, saved.started_at, saved.desired)
            elif saved.desired == "running" and saved.state in (
                None,
                "starting",
                "running",
                "backoff",
                "stopping",
            ):
                await inst.contain_orphans()
                inst.last_exit = "ended while the keeper was down"
                # Nobody saw it die: say so (the monitor alerts on it) and count the restart.
                self.emit(
                    saved.name,
                    "crashed",
                    f"{saved.name} (pid {saved.pid}) ended while the keeper was down",
                    {"pid": saved.pid, "code": None, "signal": None, "cause": "exit"},
                )
                inst.restarts += 1
                inst.history.append(time.time())
                inst.start(operator=False)
            elif saved.desired == "running" and saved.state == "stopped":
                # Stopped with the keeper by the system (a reboot): wanted running, so resume.
                self.emit(saved.name, "resumed", f"{saved.name} resumed after a keeper restart")
                inst.start(operator=False)
            else:
                inst.state = (
                    "fatal"
                    if saved.state == "fatal"
                    else ("exited" if saved.state == "exited" else "stopped")
                )
                inst.desired = "stopped" if inst.state == "stopped" else inst.desired
                self.persist(inst)
        for name, spec in builtins.items():
            if spec is not None and name not in self.instances:
                self.register(spec).start(operator=False)
        self._sampler = self.spawn_task(self._sample_forever(), "resource sampler")
        self.trim_soon()

    async def _sample_forever(self) -> None:
        """Resource samples of every live instance from one /proc pass, every min(5 s, the
        shortest health_check_interval) while some instance has a memory or CPU limit. Without
        limits nothing needs them between two `status` requests (which sample on demand), so the
        keeper stays asleep until an instance is registered (start, reload), and looks every
        30 s in case a reload changed a running instance's limits."""
        while True:
            limited = [i for i in self.instances.values() if i.has_limits()]
            if not limited:
                self._limits_changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._limits_changed.wait(), IDLE_RECHECK)
                continue
            intervals = [i.cfg.daemon.health_check_interval for i in limited]
            await asyncio.sleep(min([SAMPLE_EVERY, *intervals]))
            try:
                self.sample(check_limits=True)
            except Exception as exc:  # one bad sample must not end sampling for good
                self.task_failed("resource sampling", exc)

    def sample(self, *, check_limits: bool) -> None:
        """Measure every live instance's process tree (one /proc pass for all of them). Only
        the timer's samples count towards `limit_samples`: a burst of `status` requests must
        not make a limit trip sooner."""
        live = [i for i in self.instances.values() if i.pid is not None]
        usage = self._usage.sample([i.pid for i in live if i.pid is not None])
        self._sampled_at = time.monotonic()
        for inst in live:
            if inst.pid is not None:
                inst.sample(usage.get(inst.pid), check_limits=check_limits)

    def refresh_usage(self) -> None:
        """Before a `status` answer: figures at most FRESH_ENOUGH old."""
        if time.monotonic() - self._sampled_at >= FRESH_ENOUGH:
            try:
                self.sample(check_limits=False)
            except Exception as exc:  # status answers with the last figures
                self.task_failed("resource sampling", exc)

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

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._subscribers.discard(queue)

    def subscriber_count(self) -> int:
        """Open `subscribe` streams (the monitor's, one per open dashboard): `ping` shows it."""
        return len(self._subscribers)

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
