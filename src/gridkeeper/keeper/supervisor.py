"""The supervisor: owns every instance, reaps children, routes output to the log sink, records
events, and answers the socket API's operations."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from gridkeeper.errors import ConfigError, GridkeeperError
from gridkeeper.keeper import process
from gridkeeper.keeper.api import LEGACY, MONITOR, Api, ApiError
from gridkeeper.keeper.instance import Instance
from gridkeeper.keeper.output import OutputRouter, Sink
from gridkeeper.keeper.policy import Exit
from gridkeeper.keeper.process import exit_from_status
from gridkeeper.keeper.spec import (
    InstanceSpec,
    Resolution,
    SettingsSpec,
    check_unique,
    instance_from_wire,
    instance_to_wire,
    resolve,
)
from gridkeeper.keeper.state import StateStore

SUBSCRIBER_QUEUE = 10_000
SAMPLE_EVERY = 5.0


class Supervisor:
    def __init__(
        self, home: Path, settings_path: Path | None, sink: Sink, log: Any, first: Resolution
    ) -> None:
        self.home = home
        self.run_dir = home / "run"
        self.run_dir.mkdir(mode=0o700, exist_ok=True)
        self.settings_path = settings_path
        self.settings: SettingsSpec = first.settings
        self.monitor_spec: InstanceSpec | None = first.monitor
        self.sink = sink
        self.log = log
        self.store = StateStore(home / "state.db")
        self.instances: dict[str, Instance] = {}
        self.started_at = time.time()
        self.done = asyncio.Event()
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._by_pid: dict[int, Instance] = {}
        self.output = OutputRouter(self.run_dir, self._line)
        self._pidfds: dict[str, int] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self.shutting_down = False
        self._sampler: asyncio.Task[None] | None = None
        self.api = Api(self)

    # ------------------------------------------------------------------ Host protocol
    def emit(
        self, instance: str, kind: str, message: str, data: dict[str, Any] | None = None
    ) -> None:
        event = self.store.add_event(instance, kind, message, data)
        level = "error" if kind in ("crashed", "fatal", "contain_failed") else "info"
        getattr(self.log, level)(message, name=instance, kind=kind, **(data or {}))
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
            self._watchers[cfg.name] = asyncio.get_running_loop().create_task(inst.watch())
        elif inst.pid is None:
            inst.cfg = cfg
        self.add_redactions(cfg.secrets)
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
        self, files: Iterable[str] = (), *, defaults: bool = False
    ) -> Resolution:
        """Configs are read by the config package in its own short-lived process."""
        call = functools.partial(
            resolve, self.settings_path, list(files), defaults=defaults, home=self.home
        )
        result = await asyncio.get_running_loop().run_in_executor(None, call)
        self.add_redactions(result.settings.secrets)
        return result

    @staticmethod
    def strict(result: Resolution) -> list[InstanceSpec]:
        """For start: one bad file starts nothing."""
        if result.errors:
            raise ConfigError("\n".join(message for _, message in result.errors))
        return result.instances

    async def default_configs(self) -> list[InstanceSpec]:
        """No target: the settings file's legacy program, else every active instance file."""
        result = await self.resolve_configs(defaults=True)
        configs = self.strict(result)
        if not configs:
            folder = result.settings.instances_dir
            raise ApiError("config", f"no instances to start: no *.json in {folder}")
        return configs

    async def load(self, paths: Iterable[str]) -> list[InstanceSpec]:
        """Load every config first: one bad file starts nothing."""
        configs = self.strict(await self.resolve_configs(paths))
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
            r.config for r in rows if r.name not in (MONITOR, LEGACY) and Path(r.config).exists()
        ]
        result = await self.resolve_configs(wanted) if wanted else None
        fresh = {c.name: c for c in result.instances} if result else {}
        if rows and any(r.name == LEGACY for r in rows):
            fresh.update(
                {
                    c.name: c
                    for c in (await self.resolve_configs(defaults=True)).instances
                    if c.name == LEGACY
                }
            )
        for file, message in result.errors if result else []:
            self.emit("keeper", "config_error", f"cannot read {file}: {message}")
        monitor = self.monitor_spec
        for saved in rows:
            stored = instance_from_wire(saved.spec) if saved.spec else None
            alive = saved.pid is not None and process.same_process(
                saved.pid, saved.identity, saved.name, home
            )
            if saved.name == MONITOR:
                if alive and monitor is not None:
                    assert saved.pid is not None and saved.identity is not None
                    self.register(monitor).adopt(saved.pid, saved.identity, saved.started_at)
                continue
            # A live process keeps the config it was started with; a restart takes the file.
            cfg = (stored or fresh.get(saved.name)) if alive else (fresh.get(saved.name) or stored)
            if cfg is None:
                self.emit(saved.name, "config_error", f"{saved.name}: no config to restore from")
                continue
            inst = self.register(cfg)
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
            else:
                inst.state = (
                    "fatal"
                    if saved.state == "fatal"
                    else ("exited" if saved.state == "exited" else "stopped")
                )
                inst.desired = "stopped" if inst.state == "stopped" else inst.desired
                self.persist(inst)
        if monitor is not None and MONITOR not in self.instances:
            self.register(monitor).start(operator=False)
        self._sampler = asyncio.get_running_loop().create_task(self._sample_forever())

    async def _sample_forever(self) -> None:
        """Resource samples of every live instance from one /proc scan, every
        min(5 s, the shortest health_check_interval)."""
        while True:
            intervals = [i.cfg.daemon.health_check_interval for i in self.instances.values()]
            await asyncio.sleep(min([SAMPLE_EVERY, *intervals]))
            live = [i for i in self.instances.values() if i.pid is not None]
            if live:
                kids = process.children_map()
                for inst in live:
                    inst.sample(kids)

    # ------------------------------------------------------------------ operations
    async def handle(self, op: str, args: dict[str, Any]) -> Any:
        """One socket API request (see gridkeeper.keeper.api)."""
        return await self.api.handle(op, args)

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._subscribers.discard(queue)

    # ------------------------------------------------------------------ life
    async def shutdown(self, *, stop_instances: bool) -> None:
        if self.shutting_down:
            return
        self.shutting_down = True
        self.emit(
            "keeper",
            "keeper_stopping",
            "keeper stopping"
            + (" with its instances" if stop_instances else "; instances keep running"),
        )
        if stop_instances:
            await asyncio.gather(
                *(i.stop(reason="keeper shutdown") for i in self.instances.values())
            )
            # Keep the operator's intent: a keeper restarted later starts them again only when
            # asked, so record them as stopped.
        for inst in self.instances.values():
            inst.cancel_tasks()
        for task in self._watchers.values():
            task.cancel()
        if self._sampler is not None:
            self._sampler.cancel()
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self.done.set()

    def install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGCHLD, self.reap)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(
                sig, lambda: loop.create_task(self.shutdown(stop_instances=True))
            )
        # SIGUSR2: leave the instances running (an upgrade); the next keeper re-adopts them.
        loop.add_signal_handler(
            signal.SIGUSR2, lambda: loop.create_task(self.shutdown(stop_instances=False))
        )
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self._reload_logged()))

    async def _reload_logged(self) -> None:
        try:
            report = await self.api.op_reload()
            self.emit("keeper", "reloaded", f"reload: {report}")
        except GridkeeperError as exc:
            self.emit("keeper", "reload_failed", f"reload failed: {exc}")
