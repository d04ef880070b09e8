"""Resolved configs as plain JSON, for programs that must not import pydantic.

The keeper is a long-lived daemon whose memory budget is smaller than pydantic's (see
benchmarks/keeper.py): it asks `gridkeeper config resolve` — a short-lived process — for
resolved instances and reads this JSON with stdlib dataclasses (gridkeeper.keeper.spec).
The document carries secret values (the keeper redacts them from logs), so it travels only
over a pipe; the command refuses to print it on a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gridkeeper.config.instance import InstanceConfig, fingerprint
from gridkeeper.config.loader import (
    instances_dir,
    legacy_instance,
    load_instance,
    load_settings,
    program_instance,
)
from gridkeeper.config.secret_checks import secret_values
from gridkeeper.config.settings import DaemonDefaults, Settings
from gridkeeper.errors import ConfigError

WIRE_VERSION = 1
MONITOR = "gridkeeper-monitor"
WEB = "gridkeeper-web"


def instance_wire(cfg: InstanceConfig) -> dict[str, Any]:
    daemon = cfg.daemon.model_dump(mode="json", include=set(DaemonDefaults.model_fields))
    daemon.pop("health_check", None)
    daemon.pop("environment", None)
    return {
        "name": cfg.name,
        "path": str(cfg.path),
        "argv": list(cfg.argv),
        "cwd": str(cfg.cwd),
        "env": dict(cfg.env),
        "web_port": cfg.web_port,
        "depends_on": list(cfg.daemon.depends_on),
        "fingerprint": cfg.fingerprint,
        "grid_bot": cfg.is_grid_bot,
        "daemon": daemon,
        "health": cfg.health.model_dump(mode="json") if cfg.health else None,
        "secrets": sorted(secret_values(cfg)),
        "warnings": list(cfg.warnings),
        "own_log_dir": str(cfg.own_log_dir) if cfg.own_log_dir else None,
        "ref_env": dict(cfg.ref_env),
        "kept_env": dict(cfg.kept_env),
    }


def settings_wire(settings: Settings, path: Path | None) -> dict[str, Any]:
    lg = settings.logging
    return {
        "path": str(path) if path else None,
        "log_dir": settings.log_dir,
        "log_retention_days": settings.log_retention_days,
        "log_cleanup_interval": settings.log_cleanup_interval,
        "logging": lg.model_dump(mode="json"),
        "monitor_enabled": settings.monitor.enabled,
        "legacy": settings.has_legacy_program,
        "instances_dir": str(instances_dir(path, settings)),
        "secrets": sorted(secret_values(settings)),
    }


def monitor_instance(settings: Settings, path: Path | None, home: Path) -> InstanceConfig:
    """The built-in monitor: the keeper runs it so alerts work with no second terminal."""
    return _builtin(MONITOR, "monitor", settings, path, home)


def web_instance(settings: Settings, path: Path | None, home: Path) -> InstanceConfig:
    """The built-in dashboard (`web.enabled`): like the monitor, a thin client the keeper runs.
    It reads its `web` section from the settings file itself."""
    return _builtin(WEB, "web", settings, path, home)


def _builtin(
    name: str, command: str, settings: Settings, path: Path | None, home: Path
) -> InstanceConfig:
    """A built-in program (`gridkeeper COMMAND --home H [--settings S]`): restarted whatever
    its exit (it is the operator's eyes, never meant to stop), no resource limits."""
    import sys

    # -P: never import modules from the cwd (see gridkeeper.resolver)
    argv = [sys.executable, "-P", "-m", "gridkeeper", command, "--home", str(home)]
    if path is not None:
        argv += ["--settings", str(path)]
    return program_instance(
        name,
        argv,
        settings,
        path=path or home / "state.db",
        cwd=home,
        overrides={
            "auto_restart": "always",
            "max_restart_attempts": 1000,
            "memory_limit_mb": None,
            "cpu_limit_percent": None,
            "startsecs": 1,
        },
    )


def resolve(
    settings_path: Path | None,
    files: list[str],
    *,
    defaults: bool = False,
    home: Path | None = None,
    command_env: Mapping[str, str] | None = None,
    kept: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """Everything the keeper needs to know, as JSON-able data. A bad settings file fails the
    whole answer; a bad instance file is reported per file, so one broken file cannot stop the
    keeper from restoring the others. `command_env` is the environment of the command that asked
    (start, restart, reload); `kept` what each config path resolved last time (envlayers)."""
    kept = kept or {}
    settings = load_settings(settings_path, command_env=command_env)

    def one(file: str | Path) -> InstanceConfig:
        old = kept.get(str(Path(file).resolve()))
        return load_instance(file, settings, command_env=command_env, kept_env=old)

    def legacy() -> InstanceConfig:
        assert settings_path is not None
        old = kept.get(str(settings_path.resolve()))
        return legacy_instance(settings_path, settings, command_env=command_env, kept_env=old)

    doc: dict[str, Any] = {
        "version": WIRE_VERSION,
        "ok": True,
        "settings": settings_wire(settings, settings_path),
        "instances": [],
        "errors": [],
        "monitor": None,
        "web": None,
    }
    configs: list[InstanceConfig] = []
    for file in files:
        try:
            if settings_path is not None and Path(file).resolve() == settings_path.resolve():
                configs.append(legacy())
            else:
                configs.append(one(file))
        except ConfigError as exc:
            doc["errors"].append({"file": str(file), "message": str(exc)})
    if defaults:
        if settings_path is not None and settings.has_legacy_program:
            configs.append(legacy())
        else:
            folder = instances_dir(settings_path, settings)
            for active in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                try:
                    configs.append(one(active))
                except ConfigError as exc:
                    doc["errors"].append({"file": str(active), "message": str(exc)})
    doc["instances"] = [instance_wire(c) for c in configs]
    if home is not None and settings.monitor.enabled:
        monitor = instance_wire(monitor_instance(settings, settings_path, home))
        # The monitor reads the settings itself: any change to them must restart it on reload.
        monitor["fingerprint"] = fingerprint(
            {"monitor": monitor["fingerprint"], "settings": settings.model_dump(mode="json")}
        )
        doc["monitor"] = monitor
    if home is not None and settings.web.enabled:
        web = instance_wire(web_instance(settings, settings_path, home))
        web["fingerprint"] = fingerprint(
            {"web": web["fingerprint"], "settings": settings.web.model_dump(mode="json")}
        )
        doc["web"] = web
    return doc
