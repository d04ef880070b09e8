"""Commands that drive the keeper: start, stop, restart, status, list, logs, reload, shutdown,
and `keeper` (the daemon itself). A thin client of the socket API."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gridkeeper.cli.common import (
    command_env,
    configs_option,
    home_option,
    keeper_for,
    settings_option,
    warn,
)
from gridkeeper.errors import OperationFailed, UsageError
from gridkeeper.keeper.client import KeeperClient, KeeperError
from gridkeeper.paths import find_settings, resolve_home

if TYPE_CHECKING:
    from gridkeeper.config import InstanceConfig, Settings

# Config models (pydantic) are imported inside the commands that read configs: `status` and
# `stop` must stay fast, and they only talk to the keeper.

NOT_RUNNING_EXIT = 3  # LSB: program is not running


def _context(home: Path | None, settings_path: Path | None) -> tuple[Path, Path | None, Settings]:
    from gridkeeper.config import load_settings

    spath = find_settings(settings_path)
    return resolve_home(home), spath, load_settings(spath)


def _default_configs(spath: Path | None, settings: Settings) -> list[InstanceConfig]:
    from gridkeeper.config import instances_dir, legacy_instance, load_instance
    from gridkeeper.config.crosscheck import check_dependencies

    if spath is not None and settings.has_legacy_program:
        return [legacy_instance(spath, settings)]
    folder = instances_dir(spath, settings)
    configs = (
        [load_instance(p, settings) for p in sorted(folder.glob("*.json"))]
        if folder.is_dir()
        else []
    )
    if not configs:
        raise UsageError(f"nothing to start: no --config given and no *.json in {folder}")
    check_dependencies(configs)
    return configs


def _with_dependencies(
    loaded: list[InstanceConfig], spath: Path | None, settings: Settings
) -> list[InstanceConfig]:
    """`start --config bot.json` also brings what the bot depends on from the active dir."""
    missing = {d for c in loaded for d in c.daemon.depends_on} - {c.name for c in loaded}
    if not missing:
        return loaded
    from gridkeeper.config import instances_dir, load_instance
    from gridkeeper.config.crosscheck import check_dependencies

    folder = instances_dir(spath, settings)
    active = {
        c.name: c for c in (load_instance(p, settings) for p in sorted(folder.glob("*.json")))
    }
    result = list(loaded)
    while missing:
        name = missing.pop()
        if name in active and name not in {c.name for c in result}:
            result.append(active[name])
            missing |= set(active[name].daemon.depends_on) - {c.name for c in result}
    check_dependencies(result)
    return result


def _print_results(results: list[dict[str, Any]], as_json: bool = False) -> int:
    failed = sum(1 for r in results if r.get("outcome") == "failed")
    if as_json:
        import orjson

        click.echo(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
        return 1 if failed else 0
    for result in results:
        outcome = result.get("outcome")
        colour = {
            "running": "green",
            "started": "green",
            "stopped": "green",
            "already_running": "cyan",
            "not_running": "cyan",
        }.get(str(outcome), "red")
        click.secho(f"{result['name']}: {result.get('message', outcome)}", fg=colour)
        for line in result.get("stderr") or []:
            click.echo(f"    | {line}", err=True)
    return 1 if failed else 0


@click.command()
@click.argument("names", nargs=-1)
@configs_option
@click.option("--all", "all_", is_flag=True, help="Every config in the instances directory.")
@click.option(
    "-d",
    "--daemon",
    is_flag=True,
    help="Run in the background; return once each instance runs or failed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@home_option
@settings_option
def start(
    names: tuple[str, ...],
    configs: tuple[Path, ...],
    all_: bool,
    daemon: bool,
    as_json: bool,
    home: Path | None,
    settings_path: Path | None,
) -> None:
    """Start instances NAMES, or those of --config files, or every active config (and the
    keeper if needed).

    \b
    Examples:
      gridkeeper start -d                                   # every config/active/*.json
      gridkeeper start -d --config config/active/bot.json
      gridkeeper start                                      # foreground; Ctrl-C stops all
    """
    from gridkeeper.config import load_instance
    from gridkeeper.config.crosscheck import check_unique

    home_dir, spath, settings = _context(home, settings_path)
    if configs:
        loaded = [load_instance(p, settings) for p in configs]
    elif names:
        loaded = []
    else:
        loaded = _default_configs(spath, settings)
    loaded = _with_dependencies(loaded, spath, settings)
    check_unique(loaded)
    for cfg in loaded:
        warn(cfg.warnings)
    request: dict[str, Any] = {"configs": [str(c.path) for c in loaded], "wait": True}
    if names:
        request["names"] = list(names)
    if loaded and loaded[0].name == "daemon_config" and not configs:
        request = {"wait": True}  # the keeper resolves the legacy program from its settings
    request["env"] = command_env()
    if as_json and not daemon and KeeperClient(home_dir).ping() is None:
        raise UsageError("--json reports a start in the background: add -d")
    if not daemon:
        client = KeeperClient(home_dir)
        info = client.ping()
        if info is None:
            from gridkeeper.keeper import daemon as keeper_daemon

            click.echo(f"keeper running in the foreground on {home_dir} (Ctrl-C stops everything)")
            code = keeper_daemon.run(
                home_dir, spath, background=False, initial=request, echo=sys.stdout
            )
            raise click.exceptions.Exit(code)
        click.echo(f"a keeper already runs on {home_dir} (pid {info['pid']}); asking it")
    client = keeper_for(home_dir, spath)
    with _spinner("starting"):
        results = client.request("start", **request)
    raise click.exceptions.Exit(_print_results(results, as_json))


class _spinner:
    """A rich spinner on a terminal; nothing when output is piped."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.status: Any = None

    def __enter__(self) -> None:
        if sys.stderr.isatty():
            from rich.console import Console

            self.status = Console(stderr=True).status(f"{self.what}…")
            self.status.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)


def _keeper_if_anything_ran(home: Path) -> KeeperClient | None:
    """The keeper, started if need be — but only when one ran here before: after a keeper
    crash its bots still run, and only a keeper (which re-adopts them) can stop them."""
    client = KeeperClient(home)
    if client.ping() is not None:
        return client
    if not (home / "state.db").exists():
        return None
    return keeper_for(home, find_settings(None))


def _targets(names: tuple[str, ...], configs: tuple[Path, ...], all_: bool) -> dict[str, Any]:
    if names == ("-",):
        return {"all": True}  # the seed's `stop -`
    args: dict[str, Any] = {}
    if all_:
        args["all"] = True
    if names:
        args["names"] = list(names)
    if configs:
        from gridkeeper.config.jsonfile import resolve_file

        args["configs"] = [str(resolve_file(p)) for p in configs]
    return args


@click.command()
@click.argument("names", nargs=-1)
@configs_option
@click.option("--all", "all_", is_flag=True, help="Every instance (the default).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@home_option
@settings_option
def restart(
    names: tuple[str, ...],
    configs: tuple[Path, ...],
    all_: bool,
    as_json: bool,
    home: Path | None,
    settings_path: Path | None,
) -> None:
    """Restart instances NAMES (or --config; no target: all).

    Example: gridkeeper restart paper-sol-spot
    """
    home_dir, spath = resolve_home(home), find_settings(settings_path)
    if configs:
        from gridkeeper.config import load_instance

        _, _, settings = _context(home, settings_path)
        for path in configs:
            load_instance(path, settings)
    client = keeper_for(home_dir, spath)
    args = _targets(names, configs, all_)
    env = command_env()
    with _spinner("restarting"):
        try:
            results = client.request("restart", **args, env=env)
        except KeeperError as exc:
            if exc.code != "not_found" or not configs:
                raise
            results = client.request("start", configs=args["configs"], wait=True, env=env)
    raise click.exceptions.Exit(_print_results(results, as_json))


@click.command()
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@home_option
@settings_option
def reload(dry_run: bool, as_json: bool, home: Path | None, settings_path: Path | None) -> None:
    """Re-read the settings and configs; restart only instances whose config changed.

    Also says which running grids have a range that differs from their file's, and that the
    running range wins (a restarted bot keeps the range in its store).

    Example: gridkeeper reload --dry-run
    """
    from gridkeeper.cli import range_drift

    home_dir, spath = resolve_home(home), find_settings(settings_path)
    client = keeper_for(home_dir, spath)
    report = client.request("reload", dry_run=dry_run, env=command_env())
    report["range_differs"] = range_drift.drifts(home_dir, client.request("status") or [])
    if as_json:
        import orjson

        click.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return
    for key in ("added", "removed", "changed", "unchanged"):
        click.echo(f"{key:10} {', '.join(report[key]) or '-'}")
    for drift in report["range_differs"]:
        if drift["differs"]:
            click.secho(f"note: {range_drift.describe(drift)}", fg="yellow")


@click.command()
@home_option
def shutdown(home: Path | None) -> None:
    """Stop every instance, then the keeper.

    Example: gridkeeper shutdown
    """
    home_dir = resolve_home(home)
    client = _keeper_if_anything_ran(home_dir)
    info = client.ping() if client is not None else None
    if client is None or info is None:
        click.echo("no keeper has run on this home: nothing to shut down")
        return
    result = client.request("shutdown")
    click.echo(f"stopping: {', '.join(result['stopping']) or 'no instances'}")
    deadline = time.monotonic() + 600
    while _pid_alive(info["pid"]):
        if time.monotonic() > deadline:
            raise OperationFailed(f"the keeper (pid {info['pid']}) is still running")
        time.sleep(0.05)
    click.echo(f"keeper (pid {info['pid']}) stopped")


def _pid_alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@click.command()
@home_option
@settings_option
@click.option("--daemonize", is_flag=True, help="Detach (what `start -d` runs).")
def keeper(home: Path | None, settings_path: Path | None, daemonize: bool) -> None:
    """Run the keeper daemon itself (normally started for you by the other commands).

    Example: gridkeeper keeper --home /srv/gridkeeper   # foreground, e.g. under systemd
    """
    if "asyncio" not in sys.modules and "ssl" not in sys.modules:
        # The keeper never speaks TLS (its probes are plain HTTP to 127.0.0.1), and asyncio
        # would otherwise load libssl for nothing: 4 MiB of a daemon meant to stay small.
        # asyncio treats a missing ssl module as "no TLS support", by design.
        sys.modules["ssl"] = None  # type: ignore[assignment]
    from gridkeeper.keeper import daemon as keeper_daemon

    spath = find_settings(settings_path)
    code = keeper_daemon.run(resolve_home(home), spath, background=daemonize)
    raise click.exceptions.Exit(code)
