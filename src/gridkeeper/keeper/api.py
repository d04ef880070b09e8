"""The keeper's socket API operations (docs/architecture.md): what each request does to the
supervisor's instances. The server (server.py) frames requests; this module answers them."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from gridkeeper.keeper.instance import Instance
from gridkeeper.keeper.names import BUILTINS as BUILTINS
from gridkeeper.keeper.names import LEGACY as LEGACY
from gridkeeper.keeper.names import MONITOR as MONITOR
from gridkeeper.keeper.names import WEB as WEB
from gridkeeper.keeper.names import ApiError as ApiError
from gridkeeper.keeper.spec import InstanceSpec, check_unique
from gridkeeper.keeper.supervisor import Supervisor
from gridkeeper.version import version

MAX_EVENTS_LIMIT = 100_000
READ_ONLY_OPS = frozenset({"ping", "status", "events"})  # still answered while shutting down


def dependency_order(targets: list[Instance]) -> list[Instance]:
    """Targets with their dependencies (those among the targets) first; stable otherwise."""
    by_name = {i.name: i for i in targets}
    ordered: list[Instance] = []
    seen: set[str] = set()

    def visit(inst: Instance, path: tuple[str, ...]) -> None:
        if inst.name in seen or inst.name in path:
            return  # a cycle was refused by the config check; never loop on one
        for dep in inst.cfg.depends_on:
            if dep in by_name:
                visit(by_name[dep], (*path, inst.name))
        seen.add(inst.name)
        ordered.append(inst)

    for inst in targets:
        visit(inst, ())
    return ordered


class Api:
    def __init__(self, sup: Supervisor) -> None:
        self.sup = sup

    async def handle(self, op: str, args: dict[str, Any]) -> Any:
        handler = getattr(self, f"op_{op}", None)
        if handler is None or op in ("subscribe",):
            raise ApiError("bad_request", f"unknown op {op!r}")
        if self.sup.shutting_down and op not in READ_ONLY_OPS:
            raise ApiError("failed", "the keeper is shutting down")
        env = args.get("env")
        if env is not None and not (
            isinstance(env, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
        ):
            raise ApiError("bad_request", "env must be an object of strings")
        for key in ("names", "configs"):
            value = args.get(key)
            if value is not None and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            ):
                raise ApiError("bad_request", f"{key} must be a list of strings")
        return await handler(**args)

    async def op_ping(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "home": str(self.sup.home),
            "version": version(),
            "started_at": self.sup.started_at,
            "started_by": self.sup.started_by,
            "settings": str(self.sup.settings_path) if self.sup.settings_path else None,
            "state_store_degraded": self.sup.store_degraded,
            "task_failures": self.sup.task_failures,
            "subscribers": self.sup.subscriber_count(),
        }

    async def op_status(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        insts = (
            self.sup.named(names)
            if names
            else sorted(self.sup.instances.values(), key=lambda i: i.name)
        )
        self.sup.refresh_usage()  # CPU/RSS are measured on demand, not on an idle timer
        degraded = self.sup.store_degraded
        # Lines a full log disk dropped and no "lost N lines" record has reported yet: the
        # monitor alerts while it is above zero (logs.sink stats; a sink without them: 0).
        stats = getattr(self.sup.sink, "stats", None)
        lost = int(stats().get("lost_lines", 0)) if callable(stats) else 0
        return [
            {**i.status(), "state_store_degraded": degraded, "log_lines_lost": lost} for i in insts
        ]

    async def op_start(
        self,
        configs: list[str] | None = None,
        names: list[str] | None = None,
        wait: bool = False,
        all: bool = False,
        env: dict[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """`env`: the environment of the command asking; `${VAR}` resolve in it."""
        targets: list[Instance] = []
        if configs:
            for cfg in await self.sup.load(configs, env):
                inst = self.sup.register(cfg)
                targets.append(inst)
        if names:
            named = self.sup.named(names)
            await self._refresh_stopped(named, env)
            targets += named
        if not configs and not names:
            defaults = await self.sup.default_configs(env)
            check_unique(defaults)
            targets += [self.sup.register(c) for c in defaults]
        results: list[dict[str, Any]] = []
        waits: list[asyncio.Future[dict[str, Any]]] = []
        started: dict[str, asyncio.Future[dict[str, Any]]] = {}
        for inst in dependency_order(targets):
            blocker = await self._dependencies_ready(inst, started)
            if blocker is not None:
                results.append(
                    {"name": inst.name, "outcome": "failed", "message": f"not started: {blocker}"}
                )
                continue
            await inst.idle()
            outcome, message = inst.start()
            if outcome == "starting":
                settled = inst.wait_settled()
                started[inst.name] = settled
                if wait:
                    waits.append(settled)
                    continue
                if inst.state == "fatal":
                    outcome, message = "failed", inst.last_exit or "failed"
            results.append({"name": inst.name, "outcome": outcome, "message": message})
        if waits:
            results += await asyncio.gather(*waits)
        return results

    async def _refresh_stopped(self, insts: list[Instance], env: dict[str, str] | None) -> None:
        """`start NAME` of an instance that does not run re-reads its file in the command's
        environment (a running one is left as it is: starting it changes nothing)."""
        if env is None:
            return
        files = [
            str(i.cfg.path)
            for i in insts
            if i.pid is None and i.name not in (LEGACY, *BUILTINS) and i.cfg.path.exists()
        ]
        if files:
            for cfg in self.sup.strict(await self.sup.resolve_configs(files, env=env)):
                self.sup.register(cfg)

    async def _dependencies_ready(
        self, inst: Instance, started: dict[str, asyncio.Future[dict[str, Any]]]
    ) -> str | None:
        """Wait until every dependency runs; the reason when one cannot."""
        for dep in inst.cfg.depends_on:
            other = self.sup.instances.get(dep)
            if other is None:
                return f"depends on {dep!r}, which the keeper does not know (start it too)"
            if other.state == "running":
                continue
            settled = started.get(dep)
            if settled is None:
                if other.state != "starting":
                    return f"depends on {dep!r}, which is {other.state}"
                settled = other.wait_settled()
            result = await asyncio.shield(settled)
            if result["outcome"] != "running":
                return f"dependency {dep!r} did not start: {result['message']}"
        return None

    async def op_stop(
        self,
        names: list[str] | None = None,
        all: bool = False,
        configs: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        targets = self._targets(names, configs, all)
        outcomes = await asyncio.gather(*(i.stop() for i in targets))
        return [
            {"name": i.name, "outcome": o, "message": m}
            for i, (o, m) in zip(targets, outcomes, strict=True)
        ]

    async def op_restart(
        self,
        names: list[str] | None = None,
        all: bool = False,
        configs: list[str] | None = None,
        wait: bool = True,
        env: dict[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        targets = self._targets(names, configs, True if not (names or configs) else all)
        # A restart applies the config file as it is now (read before anything is stopped:
        # a broken file leaves the running instance alone).
        files = [
            str(i.cfg.path)
            for i in targets
            if i.name not in (LEGACY, *BUILTINS) and i.cfg.path.exists()
        ]
        fresh = (
            {c.name: c for c in self.sup.strict(await self.sup.resolve_configs(files, env=env))}
            if files
            else {}
        )
        if any(i.name == LEGACY for i in targets):
            # The seed's single program lives in the settings file: re-read it the same way,
            # so ${VAR} in its bot_args resolves in this command's environment too.
            result = await self.sup.resolve_configs(defaults=True, env=env)
            legacy = [c for c in result.instances if c.name == LEGACY]
            if not legacy:  # the settings file itself is broken: say why, change nothing
                self.sup.strict(result)
            fresh.update({c.name: c for c in legacy})
        others = [i.cfg for i in self.sup.instances.values() if i.name not in fresh]
        check_unique([*others, *fresh.values()])
        # One restart event per instance: a stop or start that lands meanwhile wins (the
        # machine keeps the last command), and each reply tells how the instance ended up.
        for inst in dependency_order(targets):
            if inst.name in fresh:
                self.sup.add_redactions(fresh[inst.name].secrets)
            inst.restart(fresh.get(inst.name))
        if not wait:
            return [
                {"name": i.name, "outcome": "starting", "message": f"{i.name} restarting"}
                for i in targets
            ]
        return list(await asyncio.gather(*(i.wait_settled() for i in targets)))

    def _targets(
        self, names: list[str] | None, configs: list[str] | None, all_: bool
    ) -> list[Instance]:
        if all_:
            # --all means the operator's instances; the built-in ones stop with the keeper.
            return sorted(
                (i for i in self.sup.instances.values() if i.name not in BUILTINS),
                key=lambda i: i.name,
            )
        targets = []
        if names:
            targets += self.sup.named(names)
        if configs:
            targets += self.sup.by_config(configs)
        if not targets:
            raise ApiError("bad_request", "name an instance, a --config file, or --all")
        return targets

    async def op_events(
        self, since_seq: Any = None, limit: Any = 100, names: list[str] | None = None
    ) -> list[dict[str, Any]]:
        # JSON numbers can be anything (1e308, -1, 2.5, true): only sane integers reach SQLite.
        if since_seq is not None and (type(since_seq) is not int or since_seq < 0):
            raise ApiError("bad_request", "since_seq must be a non-negative integer")
        if type(limit) is not int or not 1 <= limit <= MAX_EVENTS_LIMIT:
            raise ApiError("bad_request", f"limit must be an integer from 1 to {MAX_EVENTS_LIMIT}")
        return self.sup.store.events(since_seq, limit, names)

    async def op_reload(
        self, dry_run: bool = False, env: dict[str, str] | None = None
    ) -> dict[str, list[str]]:
        # A known instance whose file is gone is reported as removed, not as an error.
        paths = [
            str(i.cfg.path)
            for i in self.sup.instances.values()
            if i.name not in (LEGACY, *BUILTINS) and i.cfg.path.exists()
        ]
        result = await self.sup.resolve_configs(paths, defaults=True, env=env)
        wanted: dict[str, InstanceSpec] = {}
        for cfg in self.sup.strict(result):
            if cfg.name in wanted and wanted[cfg.name].path != cfg.path:
                check_unique([wanted[cfg.name], cfg])
            wanted.setdefault(cfg.name, cfg)
        check_unique(list(wanted.values()))
        report: dict[str, list[str]] = {"added": [], "removed": [], "changed": [], "unchanged": []}
        for name, cfg in wanted.items():
            known = self.sup.instances.get(name)
            if known is None:
                report["added"].append(name)
            elif known.cfg.fingerprint != cfg.fingerprint:
                report["changed"].append(name)
            else:
                report["unchanged"].append(name)
        report["removed"] = sorted(set(self.sup.instances) - set(wanted) - set(BUILTINS))
        if dry_run:
            return report
        self.sup.settings = result.settings
        for name in report["removed"]:
            await self.sup.instances[name].stop(reason="reload (config removed)")
            self.sup.forget(name)
        for name in report["changed"]:
            inst = self.sup.instances[name]
            self.sup.add_redactions(wanted[name].secrets)
            if inst.desired == "running":
                inst.restart(wanted[name], reason="reload (config changed)")
            elif inst.pid is None and not inst.cleaning:
                inst.cfg = wanted[name]
            else:
                inst.next_cfg = wanted[name]
        for name in report["added"]:
            self.sup.register(wanted[name]).start()
        self.sup.monitor_spec, self.sup.web_spec = result.monitor, result.web
        await self._reload_builtin(MONITOR, result.monitor)
        await self._reload_builtin(WEB, result.web)
        return report

    async def _reload_builtin(self, name: str, spec: InstanceSpec | None) -> None:
        """A built-in instance (monitor, dashboard) follows the settings: started, stopped or
        restarted."""
        current = self.sup.instances.get(name)
        if spec is None:
            if current is not None:
                await current.stop(reason=f"reload ({name} disabled)")
                self.sup.forget(name)
            return
        if current is None:
            self.sup.register(spec).start(operator=False)
        elif current.cfg.fingerprint != spec.fingerprint:
            current.restart(spec, reason="reload (settings changed)")

    async def op_shutdown(self) -> dict[str, list[str]]:
        names = [i.name for i in self.sup.instances.values() if i.pid is not None]
        self.sup.spawn_task(self.sup.shutdown(stop_instances=True), "shutdown")
        return {"stopping": names}
