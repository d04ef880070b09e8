"""`gridkeeper config check|schema|show`: validate config files without starting anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import click
import orjson

from gridkeeper.cli.common import home_option, settings_option, warn
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
from gridkeeper.config.crosscheck import check_unique
from gridkeeper.config.exchange import endpoint_warnings
from gridkeeper.config.jsonfile import read_json
from gridkeeper.config.strategy import describe_actions
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
@click.option(
    "--offline",
    is_flag=True,
    help="Skip the market checks (they read the exchange's public markets and ticker).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check(
    files: tuple[Path, ...], settings_path: Path | None, offline: bool, as_json: bool
) -> None:
    """Validate FILES (settings or instance files; none: the settings file and every active
    instance). Exit 0 when all are valid, 2 otherwise.

    For grid bots it prints the effective exchange endpoints and, unless --offline, checks the
    config against the market (price band at the current price, quantity step); an exchange
    that does not answer is noted and skipped, never an error.

    Example: gridkeeper config check config/active/*.json
    """
    if as_json:
        _check_json(files, settings_path, offline)
        return
    _check(files, settings_path, offline)


def _check_json(files: tuple[Path, ...], settings_path: Path | None, offline: bool) -> None:
    """`check --json`: the same checks, their report lines grouped per file.

    The checks print as they go (a slow market check shows progress); rather than thread a
    second output path through each of them, their lines are captured and grouped here."""
    import contextlib
    import io

    out = io.StringIO()  # one stream: a file's warnings follow its `ok` line
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            _check(files, settings_path, offline)
        except click.exceptions.Exit as exc:
            code = int(exc.exit_code)
    entries = _group_lines(out.getvalue().splitlines())
    click.echo(
        orjson.dumps({"ok": code == 0, "files": entries}, option=orjson.OPT_INDENT_2).decode()
    )
    if code:
        raise click.exceptions.Exit(code)


def _group_lines(lines: list[str]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    current: dict[str, Any] = {"file": None, "ok": True, "warnings": [], "details": []}
    for line in lines:
        if line.startswith("ok  "):
            file, _, kind = line[4:].partition("  ")
            current = {"file": file, "ok": True, "kind": kind.strip("()"), "warnings": []}
            current["details"] = []
            entries.append(current)
        elif line.startswith("warning: "):
            current["warnings"].append(line[len("warning: ") :])
        elif line.startswith("error: "):
            entries.append({"ok": False, "error": line[len("error: ") :]})
        elif line.strip():
            current["details"].append(line.strip())
    return entries


def _check(files: tuple[Path, ...], settings_path: Path | None, offline: bool) -> None:
    spath = find_settings(settings_path)
    settings = load_settings(spath)
    errors: list[ConfigError] = []
    instances: list[InstanceConfig] = []
    if not files:
        if spath is None:
            click.echo("no settings file found: built-in defaults apply")
        else:
            click.echo(f"ok  {spath}  (settings)")
            warn(settings_warnings(spath, settings))
        folder = instances_dir(spath, settings)
        if spath is not None and settings.has_legacy_program:
            instances.append(legacy_instance(spath, settings))
        if folder.is_dir():
            instances += load_active(folder, settings)
        if spath is None and not instances:
            click.secho(
                f"error: nothing to check: no settings file (config/daemon_config.json in "
                f"{Path.cwd()}, $GRIDKEEPER_SETTINGS or --settings) and no instance files in "
                f"{folder}; name the files: gridkeeper config check FILE...",
                fg="red",
                err=True,
            )
            raise click.exceptions.Exit(2)
        for cfg in instances:
            _report(cfg, offline)
        return
    for file in files:
        try:
            if file_kind(file) == "settings":
                loaded = load_settings(file)
                click.echo(f"ok  {file}  (settings)")
                warn(settings_warnings(file.resolve(), loaded))
                if loaded.has_legacy_program:
                    _report(legacy_instance(file.resolve(), loaded), offline)
            else:
                cfg = load_instance(file, settings)
                instances.append(cfg)
                _report(cfg, offline)
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


MARKET_CHECK_TIMEOUT_S = 3.0


def _report(cfg: InstanceConfig, offline: bool) -> None:
    kind = "grid bot" if cfg.is_grid_bot else "program"
    port = f", web_port {cfg.web_port}" if cfg.web_port else ""
    click.echo(f"ok  {cfg.path}  (instance {cfg.name}: {kind}{port})")
    warn(cfg.warnings)  # after its `ok` line: the warnings are about this file
    if cfg.is_grid_bot and cfg.exchange is not None:
        exchange = cfg.metadata.exchange
        click.echo(f"    exchange {exchange}: {cfg.exchange.base_url}  {cfg.exchange.ws_url}")
        warn(endpoint_warnings(exchange, cfg.exchange))
        if cfg.strategy is not None:
            # In words, what each risk limit and the boundary will do: the operator reads
            # what a stop_loss of 50 means before money is at stake.
            symbol = cfg.metadata.symbol
            spot = None if not symbol else not symbol.upper().endswith("_PERP")
            for line in describe_actions(cfg.strategy, spot=spot):
                click.echo(f"    {line}")
        if not offline:
            _market_check(cfg)


def _market_check(cfg: InstanceConfig) -> None:
    """Warnings only the market can give; the exchange not answering is a note, not an error."""
    import asyncio

    from gridkeeper.bot.checks import market_warnings
    from gridkeeper.exchange.client import BackpackClient
    from gridkeeper.exchange.errors import ExchangeError

    assert cfg.exchange is not None and cfg.strategy is not None and cfg.metadata.symbol
    symbol, strategy, url = cfg.metadata.symbol, cfg.strategy, cfg.exchange.base_url

    async def fetch() -> list[str]:
        # Public endpoints only (no keys): fees stay unknown, the band and step do not.
        async with BackpackClient(
            url, None, None, timeout_s=MARKET_CHECK_TIMEOUT_S, max_retries=0
        ) as client:
            market = await client.get_market(symbol)
            ticker = await client.get_ticker(symbol)
        lines = market_warnings(strategy, market, ticker.last_price)
        low, high = market.band(ticker.last_price)
        band = f", price band {low} - {high}" if low is not None or high is not None else ""
        click.echo(
            f"    market {symbol}: price {ticker.last_price}, step {market.step_size}, tick "
            f"{market.tick_size}{band}"
        )
        return lines

    try:
        warn(asyncio.run(fetch()))
    except ExchangeError as exc:
        click.echo(f"    market checks skipped: {url} did not answer ({exc.code})")


@config.command()
@click.argument("kind", type=click.Choice(["settings", "instance"]), default="instance")
def schema(kind: str) -> None:
    """Print the JSON Schema of KIND (settings or instance, the default) for editors.

    Example: gridkeeper config schema instance > instance.schema.json
    """
    model = Settings if kind == "settings" else InstanceFile
    doc: dict[str, Any] = model.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    click.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())


@config.command()
@click.argument("target", metavar="FILE|NAME")
@settings_option
@home_option
def show(target: str, settings_path: Path | None, home: Path | None) -> None:
    """Print the effective config of TARGET: an instance file, or a NAME the keeper or the instances
    directory knows; secrets shown as ***. For a running grid, `running_grid` shows its range
    next to the file's (the running one wins; see `grid adjust --save`).

    Example: gridkeeper config show paper-sol-spot
    """
    from gridkeeper.cli import range_drift
    from gridkeeper.cli.grid_client import instance_config_path
    from gridkeeper.paths import resolve_home

    settings = load_settings(find_settings(settings_path))
    file = Path(target)
    if not file.exists() and "/" not in target and not target.endswith(".json"):
        file = instance_config_path(target, home, settings_path)
    cfg = load_instance(file, settings)
    doc: dict[str, Any] = {
        "name": cfg.name,
        "file": str(cfg.path),
        "argv": list(cfg.argv),
        "cwd": str(cfg.cwd),
        "health": cfg.health.model_dump(mode="json") if cfg.health else None,
        "metadata": cfg.metadata.model_dump(mode="json"),
        "daemon_config": cfg.daemon.model_dump(mode="json"),
        "exchange_config": cfg.exchange.model_dump(mode="json") if cfg.exchange else None,
        "strategy_config": cfg.strategy.model_dump(mode="json") if cfg.strategy else None,
    }
    if cfg.strategy is not None and cfg.web_port is not None:
        home_dir = resolve_home(home)
        view = range_drift.running_view(home_dir, cfg.name, cfg.web_port)
        in_file = {
            "grid_lower_price": format(cfg.strategy.grid_lower_price, "f"),
            "grid_upper_price": format(cfg.strategy.grid_upper_price, "f"),
            "grid_num": cfg.strategy.grid_num,
        }
        if view is not None:
            drift = range_drift.compare(cfg.name, in_file, view)
            doc["running_grid"] = {**drift["running"], "differs": drift["differs"]}
            if drift["differs"]:
                click.secho(f"note: {range_drift.describe(drift)}", fg="yellow", err=True)
        else:
            doc["running_grid"] = None  # not running (or not answering)
    click.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


@config.command(hidden=True)
@click.argument("files", nargs=-1)
@click.option("--settings", "settings_path", type=click.Path(path_type=Path), default=None)
@click.option("--defaults", is_flag=True, help="Also the legacy program or every active file.")
@click.option("--home", type=click.Path(path_type=Path), default=None)
@click.option(
    "--env-stdin",
    is_flag=True,
    help='Read {"command_env": {...}, "kept": {path: {...}}} from stdin (never argv: ps shows it).',
)
def resolve(
    files: tuple[str, ...],
    settings_path: Path | None,
    defaults: bool,
    home: Path | None,
    env_stdin: bool,
) -> None:
    """Internal: resolved configs as JSON for the keeper (carries secrets; pipes only)."""
    import sys

    from gridkeeper.config.wire import resolve as resolve_configs

    if sys.stdout.isatty():
        raise click.UsageError("internal command for the keeper; its output holds secrets")
    extra: dict[str, Any] = orjson.loads(sys.stdin.buffer.read() or b"{}") if env_stdin else {}
    try:
        doc = resolve_configs(
            settings_path,
            list(files),
            defaults=defaults,
            home=home,
            command_env=extra.get("command_env"),
            kept=extra.get("kept"),
        )
    except ConfigError as exc:
        doc = {"ok": False, "error": str(exc)}
    click.echo(orjson.dumps(doc).decode())


def _register() -> None:
    from gridkeeper.cli.migrate_cmd import migrate

    config.add_command(migrate)


_register()
