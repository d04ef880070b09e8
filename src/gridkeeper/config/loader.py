"""Reading config files: JSON with positions in errors, `${VAR}` substitution, validation,
cross-file checks and secret handling. Everything raises ConfigError naming file, path, reason."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import stat
from collections import ChainMap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from gridkeeper.config.env import format_loc, references, substitute
from gridkeeper.config.envlayers import LEGACY_RUN_VARS, Layers
from gridkeeper.config.envlayers import build as build_layers
from gridkeeper.config.errors import config_error
from gridkeeper.config.instance import (
    InstanceConfig,
    InstanceFile,
    effective_health,
    fingerprint,
    project_dir,
    resolve_program,
)
from gridkeeper.config.seed import translate
from gridkeeper.config.settings import Settings
from gridkeeper.errors import ConfigError
from gridkeeper.paths import find_settings as find_settings

M = TypeVar("M", bound=BaseModel)

LEGACY_INSTANCE = "daemon_config"
MIN_MASKED = 6  # gridkeeper.logs masks secrets of at least this length
_LOOP = "symlink loop: the link points back to itself (directly or through other links)"
RESERVED_NAMES = frozenset({"keeper", "gridkeeper-monitor", "gridkeeper-web", LEGACY_INSTANCE})


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key '{key}'")
        out[key] = value
    return out


def resolve_file(path: str | Path) -> Path:
    """The absolute, symlink-free path of a config file. A symlink loop is a ConfigError naming
    the file (Python 3.11's Path.resolve() raises RuntimeError for it, later ones OSError)."""
    given = Path(path).expanduser()
    try:
        return given.resolve()
    except RuntimeError:
        raise ConfigError(_LOOP, file=str(given)) from None
    except OSError as exc:
        reason = _LOOP if exc.errno == errno.ELOOP else f"cannot resolve the path: {exc}"
        raise ConfigError(reason, file=str(given)) from None


def read_json(path: Path) -> dict[str, Any]:
    """Parse a JSON object file; syntax errors name the line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, expected a JSON file", file=str(path)) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(_LOOP, file=str(path)) from None
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read: {exc}", file=str(path)) from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", file=str(path)
        ) from None
    except ValueError as exc:  # a duplicate key
        raise ConfigError(f"invalid JSON: {exc}", file=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a JSON object", file=str(path))
    return data


def _validate(model: type[BaseModel], data: dict[str, Any], path: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, model, str(path)) from None


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
    data = substitute(raw, layers.mapping, file=str(file))
    settings: Settings = _validate(Settings, data, file)
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
    parsed: InstanceFile = _validate(InstanceFile, data, file)
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
    warnings = [*extra_warnings, *_permission_warnings(file, parsed, raw, substituted)]
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
    parsed: InstanceFile = _validate(InstanceFile, {"daemon_config": daemon}, settings_path)
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


def check_dependencies(configs: Iterable[InstanceConfig]) -> None:
    """Every `depends_on` names an instance of the set, and there is no cycle."""
    by_name = {c.name: c for c in configs}
    for cfg in by_name.values():
        for dep in cfg.daemon.depends_on:
            if dep not in by_name:
                raise ConfigError(
                    f"depends on {dep!r}, which is not an active instance",
                    file=str(cfg.path),
                    loc="daemon_config.depends_on",
                )
    state: dict[str, int] = {}

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*chain[chain.index(name) :], name])
            raise ConfigError(
                f"dependency cycle: {cycle}",
                file=str(by_name[name].path),
                loc="daemon_config.depends_on",
            )
        state[name] = 1
        for dep in by_name[name].daemon.depends_on:
            visit(dep, [*chain, name])
        state[name] = 2

    for name in by_name:
        visit(name, [])


def check_unique(configs: Iterable[InstanceConfig]) -> None:
    """Two instances may not share a name or a web_port."""
    names: dict[str, InstanceConfig] = {}
    ports: dict[int, InstanceConfig] = {}
    for cfg in configs:
        if cfg.name in names:
            raise ConfigError(
                f"duplicate instance_id {cfg.name!r}: also used by {names[cfg.name].path}",
                file=str(cfg.path),
                loc="metadata.instance_id",
            )
        names[cfg.name] = cfg
        port = cfg.web_port
        if port is not None:
            if port in ports:
                raise ConfigError(
                    f"duplicate web_port {port}: also used by {ports[port].path} "
                    f"({ports[port].name})",
                    file=str(cfg.path),
                    loc="daemon_config.web_port",
                )
            ports[port] = cfg


def secret_values(model: BaseModel | InstanceConfig | None) -> set[str]:
    """Every non-empty secret value in a loaded config, for redaction."""
    return {value for _, value in _secrets(model, ())}


def _secrets(obj: Any, loc: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    found: list[tuple[tuple[str | int, ...], str]] = []
    if isinstance(obj, SecretStr):
        value = obj.get_secret_value()
        if value:
            found.append((loc, value))
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            found += _secrets(getattr(obj, name), (*loc, name))
    elif isinstance(obj, InstanceConfig):
        found += _secrets(obj.exchange, ("exchange_config",))
        found += _secrets(obj.strategy, ("strategy_config",))
    elif isinstance(obj, list | tuple):
        for i, item in enumerate(obj):
            found += _secrets(item, (*loc, i))
    elif isinstance(obj, dict):
        for key, item in obj.items():
            found += _secrets(item, (*loc, key))
    return found


def _permission_warnings(
    file: Path,
    parsed: BaseModel,
    raw: dict[str, Any],
    substituted: set[tuple[str | int, ...]],
) -> list[str]:
    """Warn when a file that holds a secret literally can be read by group or others."""
    warnings = [
        f"{file}: the secret at {format_loc(loc)} is shorter than {MIN_MASKED} characters: "
        "logs cannot mask it (masking it would reveal it)"
        for loc, value in _secrets(parsed, ())
        if len(value) < MIN_MASKED
    ]
    literal = [loc for loc, _ in _secrets(parsed, ()) if loc not in substituted]
    if not literal:
        return warnings
    try:
        mode = file.stat().st_mode
    except OSError:
        return warnings
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        warnings.append(
            f"{file}: holds a secret ({format_loc(literal[0])}) and is readable by group or "
            f"others (mode {stat.S_IMODE(mode):04o}); run: chmod 600 {file}"
        )
    return warnings


def settings_warnings(path: Path | None, settings: Settings) -> list[str]:
    """Permission warnings for the settings file itself."""
    if path is None:
        return []
    raw = read_json(path)
    substituted: set[tuple[str | int, ...]] = set()
    substitute(raw, os.environ, file=str(path), substituted=substituted)
    return _permission_warnings(path, settings, raw, substituted)


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
    parsed: InstanceFile = _validate(
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
    data = substitute(read_json(file), os.environ if env is None else env, file=str(file))
    result: M = _validate(model, data, file)
    return result
