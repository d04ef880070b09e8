"""`gridkeeper monitor`, `alerts`, `alert` and `metrics`.

Only `monitor` runs anything; the others read or write `<home>/monitor.db` directly, so they work
whether or not the monitor runs (a custom alert raised meanwhile fires when it starts).
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import orjson

from gridkeeper.cli.common import home_option, settings_option
from gridkeeper.cli.table import render
from gridkeeper.errors import OperationFailed
from gridkeeper.paths import resolve_home

LEVELS = ("info", "warning", "error", "critical")


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    # With the zone: an operator reading a VPS's table from another zone must not guess it.
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _print_json(data: Any) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _table(header: list[str], rows: list[list[str]]) -> None:
    click.echo(render(header, rows))


def _read_store(home: Path | None) -> Any:
    """The monitor's store for a read-only command, or None when there is no history yet."""
    from gridkeeper.monitor.store import DB_NAME, Store

    path = resolve_home(home) / DB_NAME
    if not path.exists():
        click.echo(f"no monitor history at {path}", err=True)
        return None
    return Store(path)


# -- gridkeeper monitor ----------------------------------------------------------------------
@click.command()
@click.option("-d", "--daemon", is_flag=True, help="Run in the background (logs to log_dir).")
@home_option
@settings_option
def monitor(daemon: bool, home: Path | None, settings_path: Path | None) -> int:
    """Run the monitor: sample, keep history, evaluate alert rules, notify."""
    from gridkeeper.monitor.main import prepare, serve
    from gridkeeper.paths import find_settings

    home_dir = resolve_home(home)
    spath = find_settings(settings_path)
    ready = prepare(home_dir, spath)  # the settings are checked before anything starts
    if daemon:
        return _spawn_background(home_dir, spath, ready.log_dir)
    return serve(ready)


def _spawn_background(home: Path, spath: Path | None, log_dir: Path) -> int:
    log_dir.mkdir(parents=True, exist_ok=True)
    out = log_dir / "monitor.out"
    # -P: never import modules from the cwd (see gridkeeper.resolver)
    argv = [sys.executable, "-P", "-m", "gridkeeper", "monitor", "--home", str(home)]
    if spath is not None:
        argv += ["--settings", str(spath)]
    with out.open("ab") as sink:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # A monitor that cannot start (another one holds the lock, a bad setting) exits at once;
    # say so here rather than leaving the operator to find out from the log.
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise OperationFailed(f"the monitor exited with code {proc.returncode}; see {out}")
        time.sleep(0.1)
    click.echo(f"monitor running in the background (pid {proc.pid}); output in {out}")
    return 0


# -- gridkeeper alerts -----------------------------------------------------------------------
@click.group(invoke_without_command=True)
@click.option("--since", default="1d", show_default=True, help="How far back: 90s, 30m, 1h, 1d.")
@click.option("--state", type=click.Choice(["firing", "resolved"]), help="Only this state.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@home_option
@click.pass_context
def alerts(
    ctx: click.Context, since: str, state: str | None, as_json: bool, home: Path | None
) -> int:
    """Alert history (firing ones always included); `ack` and `silence` subcommands."""
    ctx.ensure_object(dict)
    ctx.obj["home"] = home
    if ctx.invoked_subcommand is not None:
        return 0
    from gridkeeper.monitor.api import parse_duration

    window = parse_duration(since)
    store = _read_store(home)
    rows = [] if store is None else store.list_alerts(time.time() - window, state)
    pending = {} if store is None else store.outbox_pending_counts()
    dead = {} if store is None else store.outbox_dead_counts()
    if store is not None:
        store.close()
    if not as_json:
        for channel, count in sorted(pending.items()):
            click.secho(
                f"{count} notification(s) waiting for channel {channel}", fg="yellow", err=True
            )
        for channel, count in sorted(dead.items()):
            click.secho(
                f"{count} notification(s) given up on channel {channel}: "
                "see gridkeeper logs gridkeeper-monitor --errors",
                fg="red",
                err=True,
            )
    if as_json:
        _print_json(rows)
        return 0
    if not rows:
        click.echo("no alerts")
        return 0
    header = ["ID", "STATE", "LEVEL", "RULE", "SUBJECT", "FIRED", "RESOLVED", "ACK", "SUMMARY"]
    _table(
        header,
        [
            [
                str(r["id"]),
                r["state"],
                r["level"],
                r["rule"],
                r["subject"],
                _when(r["fired_at"]),
                _when(r["resolved_at"]),
                "yes" if r["acked_at"] else "",
                r["summary"],
            ]
            for r in rows
        ],
    )
    return 0


def _home(ctx: click.Context, home: Path | None) -> Path:
    parent = (ctx.obj or {}).get("home")
    return resolve_home(home or parent)


@alerts.command("ack")
@click.argument("alert_id", type=int)
@home_option
@click.pass_context
def ack(ctx: click.Context, alert_id: int, home: Path | None) -> int:
    """Acknowledge alert ALERT_ID (the ID column of `alerts`): no more reminders for it (its
    resolution is still sent)."""
    from gridkeeper.monitor.store import Store

    store = Store.open(_home(ctx, home))
    try:
        if not store.ack(alert_id, time.time()):
            raise OperationFailed(f"no alert #{alert_id} in {store.path}")
    finally:
        store.close()
    click.echo(f"alert #{alert_id} acknowledged")
    return 0


@alerts.command("silence")
@click.argument("rule")
@click.option("--for", "duration", default="1h", show_default=True, help="How long: 30m, 1h, 1d.")
@click.option("--comment", default="", help="Why (shown by `alerts silences`).")
@home_option
@click.pass_context
def silence(ctx: click.Context, rule: str, duration: str, comment: str, home: Path | None) -> int:
    """Silence RULE (e.g. host_cpu, instance_crashed:bp_sol, 'instance_*') for a while."""
    from gridkeeper.monitor.api import parse_duration
    from gridkeeper.monitor.store import Store

    seconds = parse_duration(duration)
    now = time.time()
    store = Store.open(_home(ctx, home))
    try:
        sid = store.add_silence(rule, now, now + seconds, comment)
    finally:
        store.close()
    click.echo(f"silence #{sid}: {rule} until {_when(now + seconds)}")
    return 0


@alerts.command("silences")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@home_option
@click.pass_context
def silences(ctx: click.Context, as_json: bool, home: Path | None) -> int:
    """Silences in force."""
    store = _read_store(_home(ctx, home))
    rows = [] if store is None else store.active_silences(time.time())
    if store is not None:
        store.close()
    if as_json:
        _print_json(rows)
    elif not rows:
        click.echo("no silences")
    else:
        _table(
            ["ID", "PATTERN", "UNTIL", "COMMENT"],
            [[str(r["id"]), r["pattern"], _when(r["expires_at"]), r["comment"]] for r in rows],
        )
    return 0


# -- gridkeeper alert ------------------------------------------------------------------------
@click.group()
def alert() -> None:
    """Raise or resolve a custom alert (from a bot, a cron job, a script)."""


@alert.command("raise")
@click.argument("name")
@click.option("--level", type=click.Choice(LEVELS), default=None, help="Default: custom_level.")
@click.option("--message", default="", help="What happened.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@home_option
def raise_(name: str, level: str | None, message: str, as_json: bool, home: Path | None) -> int:
    """Raise custom alert NAME; it fires until `alert resolve NAME`."""
    from gridkeeper.monitor.api import raise_alert
    from gridkeeper.monitor.service import monitor_running

    raise_alert(name, level=level, message=message, home=home)
    running = monitor_running(resolve_home(home))
    if as_json:
        _print_json(
            {
                "name": name,
                "raised": True,
                "level": level,
                "message": message,
                "raised_at": _when(time.time()),
                "monitor_running": running,
            }
        )
        return 0
    click.echo(f"alert {name} raised")
    if not running:
        click.secho(
            "note: no monitor runs on this home: the alert is kept and notified when one starts "
            "(the keeper runs it: gridkeeper start -d)",
            fg="yellow",
            err=True,
        )
    return 0


@alert.command("resolve")
@click.argument("name")
@home_option
def resolve(name: str, home: Path | None) -> int:
    """Resolve custom alert NAME."""
    from gridkeeper.monitor.api import resolve_alert

    if not resolve_alert(name, home=home):
        raise OperationFailed(f"custom alert {name!r} is not raised")
    click.echo(f"alert {name} resolved")
    return 0


# -- gridkeeper metrics ----------------------------------------------------------------------
@click.command()
@click.argument("name", required=False)
@click.option("--since", default="1h", show_default=True, help="How far back: 30m, 1h, 7d.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@home_option
def metrics(name: str | None, since: str, as_json: bool, home: Path | None) -> int:
    """Latest values (no NAME), or NAME's history: raw samples up to a day, else 1-min rollups."""
    from gridkeeper.monitor.api import parse_duration

    window = parse_duration(since)
    store = _read_store(home)
    if store is None:
        if as_json:
            _print_json([])
        return 0
    try:
        if name is None:
            rows = store.latest()
        elif window <= 86400:
            rows = store.samples(name, time.time() - window)
        else:
            rows = store.rollups(name, time.time() - window)
    finally:
        store.close()
    if as_json:
        _print_json(rows)
        return 0
    if not rows:
        click.echo("no samples" + (f" of {name}" if name else ""))
        return 0

    def lab(r: dict[str, Any]) -> str:
        return ",".join(f"{k}={v}" for k, v in r["labels"].items())

    if name is not None and window > 86400:
        _table(
            ["MINUTE", "LABELS", "AVG", "MIN", "MAX"],
            [
                [_when(r["ts"]), lab(r), f"{r['avg']:g}", f"{r['min']:g}", f"{r['max']:g}"]
                for r in rows
            ],
        )
    else:
        _table(
            ["TIME", "NAME", "LABELS", "VALUE"],
            [[_when(r["ts"]), r["name"], lab(r), f"{r['value']:g}"] for r in rows],
        )
    return 0
