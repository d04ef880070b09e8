"""Loading config files into resolved configs: the settings file, instance files (over the
settings defaults, with `${VAR}` substitution from the env layers), the seed's single-bot
format, built-in programs and any other model. Everything raises ConfigError naming file, path,
reason.

Reading one JSON file is config/jsonfile.py's; checks across files are config/crosscheck.py's;
secret values and their warnings are config/secret_checks.py's."""

from __future__ import annotations

import dataclasses
import os
from collections import ChainMap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from gridkeeper.config.crosscheck import check_dependencies, check_unique
from gridkeeper.config.env import references, substitute
from gridkeeper.config.envlayers import LEGACY_RUN_VARS, Layers
from gridkeeper.config.envlayers import build as build_layers
from gridkeeper.config.instance import (
    InstanceConfig,
    InstanceFile,
    effective_health,
    fingerprint,
    project_dir,
    resolve_program,
)
from gridkeeper.config.jsonfile import read_json, resolve_file, validate
from gridkeeper.config.secret_checks import permission_warnings
from gridkeeper.config.seed import translate
from gridkeeper.config.settings import Settings
from gridkeeper.errors import ConfigError
from gridkeeper.paths import find_settings as find_settings

M = TypeVar("M", bound=BaseModel)

LEGACY_INSTANCE = "daemon_config"
RESERVED_NAMES = frozenset({"keeper", "gridkeeper-monitor", "gridkeeper-web", LEGACY_INSTANCE})


def load_settings(
    path: str | Path | None,
    env: Mapping[str, str] | None = None,
    *,
    command_env: Mapping[str, str] | None = None,
) -> Settings:
    """Load the settings file (None: built-in defaults). Its `${VAR}` come from
    `command_env`, then its own `env_file`, then `env` (default: this process's environment)."""
    if path is None:
        return Settings()
    file = Path(path)
    raw = read_json(file)
    base = os.environ if env is None else env
    own = raw.get("env_file")
    own_file: Path | None = None
    if isinstance(own, str):
        own_file = Path(substitute(own, ChainMap(dict(command_env or {}), dict(base)))).expanduser()
        own_file = own_file if own_file.is_absolute() else file.resolve().parent / own_file
    layers = build_layers(base=base, command=command_env, settings_file=own_file)
    substituted: set[tuple[str | int, ...]] = set()
    data = substitute(raw, layers.mapping, file=str(file), substituted=substituted)
    settings: Settings = validate(Settings, data, file, substituted)
    if settings.env_file:
        # Relative to the settings file, so it means the same from any directory.
        target = Path(settings.env_file).expanduser()
        if not target.is_absolute():
            target = file.resolve().parent / target
        settings = settings.model_copy(update={"env_file": str(target)})
    return settings


def instances_dir(settings_path: Path | None, settings: Settings) -> Path:
    """Where instance files live: `instances_dir` relative to the settings file's directory."""
    base = settings_path.parent if settings_path else Path("config").resolve()
    target = Path(settings.instances_dir).expanduser()
    return target if target.is_absolute() else base / target


def load_instance(
    path: str | Path,
    settings: Settings,
    env: Mapping[str, str] | None = None,
    *,
    command_env: Mapping[str, str] | None = None,
    kept_env: Mapping[str, str] | None = None,
) -> InstanceConfig:
    """Load one instance file and resolve it over the settings defaults. `${VAR}` values come
    from `command_env`, the env files, `kept_env`, then `env` (default: this process's
    environment), in that order (gridkeeper.config.envlayers)."""
    file = resolve_file(path)
    raw, seed_warnings = translate(read_json(file), known_keys(), file=str(file))
    layers = instance_layers(
        raw, file, settings, os.environ if env is None else env, command_env, kept_env
    )
    substituted: set[tuple[str | int, ...]] = set()
    refs: set[str] = set()
    data = substitute(raw, layers.mapping, file=str(file), substituted=substituted, refs=refs)
    overrides = data.get("daemon_config", {})
    own_log_dir: str | None = None
    if isinstance(overrides, dict):
        if isinstance(overrides.get("log_dir"), str):
            own_log_dir = overrides["log_dir"]
        merged = settings.defaults_dump()
        if isinstance(overrides.get("environment"), dict):
            merged["environment"] = {**merged["environment"], **overrides["environment"]}
            overrides = {k: v for k, v in overrides.items() if k != "environment"}
        merged.update(overrides)
        delay = overrides.get("restart_delay")
        if "restart_delay_max" not in overrides and isinstance(delay, int | float):
            # An instance that only raises its first delay (the seed's restart_delay: 60) keeps
            # a cap at least that long rather than failing on the inherited cap.
            merged["restart_delay_max"] = max(merged["restart_delay_max"], delay)
        data = {**data, "daemon_config": merged}
    parsed: InstanceFile = validate(InstanceFile, data, file, substituted)
    name = parsed.metadata.instance_id or file.stem
    if name in RESERVED_NAMES:
        raise ConfigError(
            f"instance name {name!r} is reserved (the keeper's own log and events use it); "
            "set another metadata.instance_id",
            file=str(file),
            loc="metadata.instance_id",
        )
    if not _valid_name(name):
        raise ConfigError(
            f"instance name {name!r} (the file stem) may hold only letters, digits, '.', '_', "
            "'-'; set metadata.instance_id",
            file=str(file),
            loc="metadata.instance_id",
        )
    cfg = _resolved(
        name,
        file,
        parsed,
        data,
        raw,
        substituted,
        [*seed_warnings, *layers.warnings],
        own_log_dir=own_log_dir,
    )
    if any(Path(a).name == "run.py" for a in cfg.argv[1:2]):
        refs |= LEGACY_RUN_VARS  # the seed's run.py reads the keys from its environment
    given, kept = layers.split(refs)
    return dataclasses.replace(cfg, ref_env=given, kept_env=kept)


def instance_layers(
    raw: dict[str, Any],
    file: Path,
    settings: Settings,
    base: Mapping[str, str],
    command_env: Mapping[str, str] | None,
    kept_env: Mapping[str, str] | None,
) -> Layers:
    """The sources of this instance's variables. Its env_file and working_dir are read from
    the raw file: they decide where variables come from, so they cannot use `${VAR}` of their
    own beyond the command's and the process's environment."""
    outer = ChainMap(dict(command_env or {}), dict(base))
    daemon = raw.get("daemon_config")
    daemon = daemon if isinstance(daemon, dict) else {}
    root = project_dir(file)
    workdir = root
    if isinstance(daemon.get("working_dir"), str):
        workdir = Path(substitute(daemon["working_dir"], outer, file=str(file))).expanduser()
        workdir = workdir if workdir.is_absolute() else root / workdir
    own: Path | None = None
    if isinstance(daemon.get("env_file"), str):
        own = Path(substitute(daemon["env_file"], outer, file=str(file))).expanduser()
        own = own if own.is_absolute() else workdir / own
    return build_layers(
        base=base,
        command=command_env,
        kept=kept_env,
        instance_file=own,
        settings_file=Path(settings.env_file) if settings.env_file else None,
        workdir=workdir,
    )


def known_keys() -> dict[str, set[str]]:
    """The keys each instance section accepts (for telling a stray seed key from a typo)."""
    from gridkeeper.config.exchange import ExchangeConfig
    from gridkeeper.config.instance import Metadata
    from gridkeeper.config.settings import InstanceDaemon
    from gridkeeper.config.strategy import GridStrategyConfig

    return {
        "metadata": set(Metadata.model_fields),
        "daemon_config": set(InstanceDaemon.model_fields),
        "exchange_config": set(ExchangeConfig.model_fields),
        "strategy_config": set(GridStrategyConfig.model_fields),
    }


def _resolved(
    name: str,
    file: Path,
    parsed: InstanceFile,
    data: dict[str, Any],
    raw: dict[str, Any],
    substituted: set[tuple[str | int, ...]],
    extra_warnings: Iterable[str] = (),
    *,
    own_log_dir: str | None = None,
) -> InstanceConfig:
    argv, cwd = resolve_program(parsed.daemon_config, file, grid_bot=parsed.is_grid_bot)
    warnings = [*extra_warnings, *permission_warnings(file, parsed, raw, substituted)]
    log_dir = None
    if own_log_dir is not None:
        # The seed's per-instance log_dir (e.g. logs/bp_sol_01) is that instance's directory,
        # relative to the working directory like the seed's other paths.
        log_dir = Path(own_log_dir).expanduser()
        if not log_dir.is_absolute():
            log_dir = cwd / log_dir
    return InstanceConfig(
        name=name,
        path=file,
        metadata=parsed.metadata,
        daemon=parsed.daemon_config,
        exchange=parsed.exchange_config,
        strategy=parsed.strategy_config,
        argv=argv,
        cwd=cwd,
        env=dict(parsed.daemon_config.environment),
        health=effective_health(parsed.daemon_config),
        fingerprint=fingerprint({"name": name, "data": data}),
        warnings=tuple(warnings),
        own_log_dir=log_dir,
    )


def legacy_instance(
    settings_path: Path,
    settings: Settings,
    *,
    command_env: Mapping[str, str] | None = None,
    kept_env: Mapping[str, str] | None = None,
) -> InstanceConfig:
    """The seed's single-bot format: the settings file itself describes one program."""
    data = settings.model_dump(mode="json")
    fields = set(InstanceFile.model_fields["daemon_config"].annotation.model_fields)  # type: ignore[union-attr]
    daemon = {k: v for k, v in data.items() if k in fields}
    parsed: InstanceFile = validate(InstanceFile, {"daemon_config": daemon}, settings_path)
    raw = read_json(settings_path)
    cfg = _resolved(LEGACY_INSTANCE, settings_path, parsed, daemon, raw, set())
    # run.py reads the keys itself (BACKPACK_KEY/SECRET, BASE_URL): give it the command's.
    layers = build_layers(
        base=os.environ,
        command=command_env,
        kept=kept_env,
        settings_file=Path(settings.env_file) if settings.env_file else None,
        workdir=cfg.cwd,
    )
    given, kept = layers.split(references(raw) | LEGACY_RUN_VARS)
    return dataclasses.replace(
        cfg, ref_env=given, kept_env=kept, warnings=(*cfg.warnings, *layers.warnings)
    )


def _valid_name(name: str) -> bool:
    import re

    from gridkeeper.config.instance import NAME_PATTERN

    return re.match(NAME_PATTERN, name) is not None


def load_active(
    directory: str | Path, settings: Settings, env: Mapping[str, str] | None = None
) -> list[InstanceConfig]:
    """Every `*.json` in the directory, checked together for duplicate names and ports."""
    folder = Path(directory)
    if not folder.is_dir():
        raise ConfigError("instances directory not found", file=str(folder))
    configs = [load_instance(p, settings, env) for p in sorted(folder.glob("*.json"))]
    check_unique(configs)
    check_dependencies(configs)
    return configs


def program_instance(
    name: str,
    argv: list[str],
    settings: Settings,
    *,
    path: Path,
    cwd: Path,
    overrides: dict[str, Any] | None = None,
) -> InstanceConfig:
    """An instance that has no file of its own (the keeper's built-in monitor)."""
    daemon = {**settings.defaults_dump(), **(overrides or {}), "command": argv}
    parsed: InstanceFile = validate(
        InstanceFile, {"metadata": {"instance_id": name}, "daemon_config": daemon}, path
    )
    return InstanceConfig(
        name=name,
        path=path,
        metadata=parsed.metadata,
        daemon=parsed.daemon_config,
        exchange=None,
        strategy=None,
        argv=tuple(argv),
        cwd=cwd,
        env=dict(parsed.daemon_config.environment),
        health=None,
        fingerprint=fingerprint({"name": name, "data": daemon}),
    )


def load_model(path: str | Path, model: type[M], env: Mapping[str, str] | None = None) -> M:
    """Any other config file (e.g. config/paper_exchange.json): the same JSON errors,
    substitution and messages as the settings and instance files."""
    file = Path(path)
    substituted: set[tuple[str | int, ...]] = set()
    env = os.environ if env is None else env
    data = substitute(read_json(file), env, file=str(file), substituted=substituted)
    result: M = validate(model, data, file, substituted)
    return result
