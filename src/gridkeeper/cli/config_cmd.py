"""`gridkeeper config check|schema|show`: validate config files without starting anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import click
import orjson

from gridkeeper.cli.common import settings_option, warn
from gridkeeper.config import (
    InstanceConfig,
    InstanceFile,
    Settings,
    find_settings,
    instances_dir,
    legacy_instance,
    load_active,
    load_instance,
    load_settings,
    settings_warnings,
)
from gridkeeper.config.loader import check_unique, read_json
from gridkeeper.errors import ConfigError

INSTANCE_KEYS = frozenset({"metadata", "daemon_config", "exchange_config", "strategy_config"})


def file_kind(path: Path) -> Literal["settings", "instance"]:
    """Instance files have the instance sections; anything else is a settings file."""
    data = read_json(path)
    return "instance" if INSTANCE_KEYS & data.keys() else "settings"


@click.group()
def config() -> None:
    """Validate config files and print their JSON Schema."""


@config.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@settings_option
def check(files: tuple[Path, ...], settings_path: Path | None) -> None:
    """Validate FILES (settings or instance files; none: the settings file and every active
    instance). Exit 0 when all are valid, 2 otherwise.

    Example: gridkeeper config check config/active/*.json
    """
    spath = find_settings(settings_path)
    settings = load_settings(spath)
    errors: list[ConfigError] = []
    instances: list[InstanceConfig] = []
    if not files:
        if spath is None:
            click.echo("no settings file found: built-in defaults apply")
        else:
            warn(settings_warnings(spath, settings))
            click.echo(f"ok  {spath}  (settings)")
        folder = instances_dir(spath, settings)
        if spath is not None and settings.has_legacy_program:
            instances.append(legacy_instance(spath, settings))
        if folder.is_dir():
            instances += load_active(folder, settings)
        for cfg in instances:
            _report(cfg)
        return
    for file in files:
        try:
            if file_kind(file) == "settings":
                loaded = load_settings(file)
                warn(settings_warnings(file.resolve(), loaded))
                click.echo(f"ok  {file}  (settings)")
                if loaded.has_legacy_program:
                    _report(legacy_instance(file.resolve(), loaded))
            else:
                cfg = load_instance(file, settings)
                instances.append(cfg)
                _report(cfg)
        except ConfigError as exc:
            errors.append(exc)
            click.secho(f"error: {exc}", fg="red", err=True)
    if not errors:
        try:
            check_unique(instances)
        except ConfigError as exc:
            errors.append(exc)
            click.secho(f"error: {exc}", fg="red", err=True)
    if errors:
        raise click.exceptions.Exit(2)


def _report(cfg: InstanceConfig) -> None:
    warn(cfg.warnings)
    kind = "grid bot" if cfg.is_grid_bot else "program"
    port = f", web_port {cfg.web_port}" if cfg.web_port else ""
    click.echo(f"ok  {cfg.path}  (instance {cfg.name}: {kind}{port})")


@config.command()
@click.argument("kind", type=click.Choice(["settings", "instance"]), default="instance")
def schema(kind: str) -> None:
    """Print the JSON Schema of a settings or instance file (for editors).

    Example: gridkeeper config schema instance > instance.schema.json
    """
    model = Settings if kind == "settings" else InstanceFile
    doc: dict[str, Any] = model.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    click.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())


@config.command()
@click.argument("file", type=click.Path(path_type=Path))
@settings_option
def show(file: Path, settings_path: Path | None) -> None:
    """Print the effective config of an instance file (secrets shown as ***).

    Example: gridkeeper config show config/active/paper_sol_spot_grid.json
    """
    settings = load_settings(find_settings(settings_path))
    cfg = load_instance(file, settings)
    doc = {
        "name": cfg.name,
        "argv": list(cfg.argv),
        "cwd": str(cfg.cwd),
        "health": cfg.health.model_dump(mode="json") if cfg.health else None,
        "metadata": cfg.metadata.model_dump(mode="json"),
        "daemon_config": cfg.daemon.model_dump(mode="json"),
        "exchange_config": cfg.exchange.model_dump(mode="json") if cfg.exchange else None,
        "strategy_config": cfg.strategy.model_dump(mode="json") if cfg.strategy else None,
    }
    click.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


@config.command(hidden=True)
@click.argument("files", nargs=-1)
@click.option("--settings", "settings_path", type=click.Path(path_type=Path), default=None)
@click.option("--defaults", is_flag=True, help="Also the legacy program or every active file.")
@click.option("--home", type=click.Path(path_type=Path), default=None)
def resolve(
    files: tuple[str, ...], settings_path: Path | None, defaults: bool, home: Path | None
) -> None:
    """Internal: resolved configs as JSON for the keeper (carries secrets; pipes only)."""
    import sys

    from gridkeeper.config.wire import resolve as resolve_configs

    if sys.stdout.isatty():
        raise click.UsageError("internal command for the keeper; its output holds secrets")
    try:
        doc = resolve_configs(settings_path, list(files), defaults=defaults, home=home)
    except ConfigError as exc:
        doc = {"ok": False, "error": str(exc)}
    click.echo(orjson.dumps(doc).decode())
