"""A new keeper takes over from the last one: re-adopt what it left running, restart what died
while no keeper watched (after killing what it left behind), leave fatal, exited and stopped
instances as they were, and run the built-in monitor and dashboard.

Runs once, at keeper start (keeper/daemon.py), from the rows of state.db.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from gridkeeper.keeper import process
from gridkeeper.keeper.names import BUILTINS, LEGACY, MONITOR, WEB
from gridkeeper.keeper.spec import instance_from_wire

if TYPE_CHECKING:
    from gridkeeper.keeper.supervisor import Supervisor


async def restore(sup: Supervisor) -> None:
    """Re-adopt what a previous keeper left running (even if its config file changed or
    vanished since: the state file holds the config it runs with); restart what died while
    no keeper watched, after killing what it left behind; leave fatal, exited and stopped
    instances as they were. Then run the built-in monitor (alerts with no second terminal;
    it talks to us through the socket like any client)."""
    home = str(sup.home)
    rows = sup.store.instances()
    wanted = [
        r.config for r in rows if r.name not in (*BUILTINS, LEGACY) and Path(r.config).exists()
    ]
    # What the last start command resolved stays in force across a keeper restart.
    kept = {str(r.config): dict(r.spec.get("kept_env") or {}) for r in rows if r.spec is not None}
    result = await sup.resolve_configs(wanted, kept=kept) if wanted else None
    fresh = {c.name: c for c in result.instances} if result else {}
    if rows and any(r.name == LEGACY for r in rows):
        fresh.update(
            {
                c.name: c
                for c in (await sup.resolve_configs(defaults=True, kept=kept)).instances
                if c.name == LEGACY
            }
        )
    for file, message in result.errors if result else []:
        sup.emit("keeper", "config_error", f"cannot read {file}: {message}")
    builtins = {MONITOR: sup.monitor_spec, WEB: sup.web_spec}
    for saved in rows:
        stored = instance_from_wire(saved.spec) if saved.spec else None
        alive = saved.pid is not None and process.same_process(
            saved.pid, saved.identity, saved.name, home
        )
        if saved.name in builtins:
            spec = builtins[saved.name]
            if alive and spec is not None:
                assert saved.pid is not None and saved.identity is not None
                sup.register(spec).adopt(saved.pid, saved.identity, saved.started_at)
            continue
        # A live process keeps the config it was started with; a restart takes the file.
        cfg = (stored or fresh.get(saved.name)) if alive else (fresh.get(saved.name) or stored)
        if cfg is None:
            sup.emit(saved.name, "config_error", f"{saved.name}: no config to restore from")
            continue
        inst = sup.register(cfg)
        if saved.name in fresh:  # the stored spec keeps no secrets: redact today's
            sup.add_redactions(fresh[saved.name].secrets)
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
            sup.emit(
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
            sup.emit(saved.name, "resumed", f"{saved.name} resumed after a keeper restart")
            inst.start(operator=False)
        else:
            inst.state = (
                "fatal"
                if saved.state == "fatal"
                else ("exited" if saved.state == "exited" else "stopped")
            )
            inst.desired = "stopped" if inst.state == "stopped" else inst.desired
            sup.persist(inst)
    for name, spec in builtins.items():
        if spec is not None and name not in sup.instances:
            sup.register(spec).start(operator=False)
    sup.after_restore()
