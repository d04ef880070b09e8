"""Commands that read state: status, list, logs. Thin clients of the keeper's socket API and
of the log files (`status` has an even faster path in cli/fast.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

import click
import orjson

from gridkeeper.cli.common import home_option, keeper_for, settings_option
from gridkeeper.cli.grid_probe import add_grid_columns
from gridkeeper.cli.keeper_cmd import NOT_RUNNING_EXIT, _context
from gridkeeper.errors import ConfigError, UsageError
from gridkeeper.keeper.client import KeeperError
from gridkeeper.paths import find_settings, resolve_home


def _table(rows: list[dict[str, Any]]) -> None:
    from gridkeeper.cli.table import status_table, use_colour

    click.echo(status_table(rows, colour=use_colour(sys.stdout)))


@click.command()
@click.argument("name", required=False)
@click.option(
    "--config", "config", type=click.Path(path_type=Path), help="The instance of this config file."
)
@click.option("--json", "as_json", is_flag=True, help="JSON objects instead of a table.")
@home_option
@settings_option
def status(
    name: str | None,
    config: Path | None,
    as_json: bool,
    home: Path | None,
    settings_path: Path | None,
) -> None:
    """Show instance status. Exit 3 when a named instance is not running.

    \b
    Examples:
      gridkeeper status
      gridkeeper status paper-sol-spot --json
    """
    home_dir, spath = resolve_home(home), find_settings(settings_path)
    targeted = name is not None or config is not None
    if config is not None:
        # Read before any keeper starts: a bad file is a config error, not a new keeper.
        from gridkeeper.config import load_instance

        name = load_instance(config, _context(home, settings_path)[2]).name
    client = keeper_for(home_dir, spath)
    try:
        rows = client.request("status", names=[name] if name else None)
    except KeeperError as exc:
        if exc.code == "not_found" and targeted:
            click.echo(f"{name}: not known to the keeper (not running)", err=True)
            raise click.exceptions.Exit(NOT_RUNNING_EXIT) from None
        raise
    if any(r.get("state_store_degraded") for r in rows):
        from gridkeeper.cli.fast import DEGRADED

        click.secho(f"warning: {DEGRADED}", fg="yellow", err=True)
    add_grid_columns(home_dir, rows)
    if as_json:
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    elif rows:
        _table(rows)
    else:
        click.echo("no instances")
    if targeted and any(r["state"] not in ("running", "starting") for r in rows):
        raise click.exceptions.Exit(NOT_RUNNING_EXIT)


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON objects instead of a table.")
@home_option
@settings_option
def list_(as_json: bool, home: Path | None, settings_path: Path | None) -> None:
    """List instances: those the keeper knows, and active configs it has not loaded yet.

    Example: gridkeeper list --json
    """
    from gridkeeper.config import instances_dir, load_instance
    from gridkeeper.config.jsonfile import resolve_file

    home_dir, spath, settings = _context(home, settings_path)
    client = keeper_for(home_dir, spath)
    rows: list[dict[str, Any]] = client.request("status")
    known = {r["config"] for r in rows}
    folder = instances_dir(spath, settings)
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                if str(resolve_file(path)) in known:
                    continue
                cfg = load_instance(path, settings)
            except ConfigError as exc:
                # Listed as broken rather than hidden: `start` would refuse it.
                click.secho(f"warning: {exc}", fg="yellow", err=True)
                continue
            rows.append(
                {
                    "name": cfg.name,
                    "state": "not loaded",
                    "pid": None,
                    "started_at": None,
                    "uptime_s": None,
                    "restarts": 0,
                    "last_exit_code": None,
                    "last_exit": None,
                    "cpu_percent": 0.0,
                    "rss_mb": 0.0,
                    "health": None,
                    "port": cfg.web_port,
                    "config": str(cfg.path),
                    "log_dir": str(cfg.log_dir(home_dir)),
                }
            )
    add_grid_columns(home_dir, rows)
    if as_json:
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    elif rows:
        _table(rows)
    else:
        click.echo("no instances")


@click.command()
@click.argument("name", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option(
    "-n", "lines", type=click.IntRange(0), default=50, show_default=True, help="Lines of history."
)
@click.option("--errors", is_flag=True, help="Only the errors file.")
@click.option("--json", "as_json", is_flag=True, help="The structured JSON file.")
@click.option(
    "--all", "every", is_flag=True, help="Every instance, each line prefixed with its name."
)
@home_option
@settings_option
def logs(
    name: str | None,
    follow: bool,
    lines: int,
    errors: bool,
    as_json: bool,
    every: bool,
    home: Path | None,
    settings_path: Path | None,
) -> None:
    """Show or follow the logs of instance NAME (`keeper` for the keeper's own), or --all.

    \b
    Examples:
      gridkeeper logs paper-sol-spot -n 100
      gridkeeper logs paper-sol-spot -f --errors
      gridkeeper logs --all -f
    """
    from gridkeeper.logs.reader import follow as follow_file
    from gridkeeper.logs.reader import tail

    if (name is None) == (not every):
        raise UsageError("give an instance NAME or --all (not both)")
    home_dir, _, settings = _context(home, settings_path)
    log_dir = Path(settings.log_dir).expanduser()
    if not log_dir.is_absolute():
        log_dir = home_dir / log_dir
    kind: Literal["log", "errors", "structured"] = (
        "errors" if errors else "structured" if as_json else "log"
    )
    if name is None:
        from gridkeeper.cli.logs_all import follow_all

        paths = _all_log_paths(home_dir, log_dir, kind)
        if not paths:
            raise UsageError(f"no instance logs: no keeper answers and {log_dir} has none")
        follow_all(paths, lines, follow, click.echo)
        return
    path = _log_path(home_dir, log_dir, name, kind)
    if not path.exists() and not follow:
        raise UsageError(f"no log for {name!r}: {path} does not exist")
    if path.exists():
        for line in tail(path, lines):
            click.echo(line)
    if follow:
        try:
            for line in follow_file(path):
                click.echo(line)
        except KeyboardInterrupt:
            return


def _log_path(
    home: Path, log_dir: Path, name: str, kind: Literal["log", "errors", "structured"]
) -> Path:
    from gridkeeper.logs.reader import log_path
    from gridkeeper.logs.retention import current_name

    own = _keeper_log_dir(home, name)
    if own is not None:  # the seed's per-instance log_dir
        return own / current_name(name, kind)
    return log_path(log_dir, name, kind)


def _all_log_paths(
    home: Path, log_dir: Path, kind: Literal["log", "errors", "structured"]
) -> dict[str, Path]:
    """Every instance's current log file: those the keeper knows (with their own log_dir),
    then any other instance folder under the log directory (an instance no keeper runs now)."""
    from gridkeeper.errors import GridkeeperError
    from gridkeeper.keeper.client import KeeperClient
    from gridkeeper.logs.retention import current_name

    found: dict[str, Path] = {}
    try:
        rows = KeeperClient(home, timeout=5).request("status") or []
    except (GridkeeperError, OSError):
        rows = []
    for row in rows:
        if isinstance(row, dict) and row.get("name"):
            name = str(row["name"])
            folder = Path(str(row["log_dir"])) if row.get("log_dir") else log_dir / name
            found[name] = folder / current_name(name, kind)
    if log_dir.is_dir():
        for folder in sorted(log_dir.iterdir()):
            if folder.is_dir() and folder.name not in found and folder.name != "keeper":
                path = folder / current_name(folder.name, kind)
                if path.exists():
                    found[folder.name] = path
    return dict(sorted(found.items()))


def _keeper_log_dir(home: Path, name: str) -> Path | None:
    """Where the keeper writes `name`'s logs, when a keeper answers and knows it."""
    from gridkeeper.errors import GridkeeperError
    from gridkeeper.keeper.client import KeeperClient

    try:
        rows = KeeperClient(home, timeout=5).request("status", names=[name]) or []
    except (GridkeeperError, OSError):
        return None
    for row in rows:
        if isinstance(row, dict) and row.get("name") == name and row.get("log_dir"):
            return Path(str(row["log_dir"]))
    return None
