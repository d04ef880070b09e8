"""`gridkeeper web` (serve the dashboard) and `gridkeeper web url` (print the login link).

Options override the settings file's `web` section (config/web.py); docs/web.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gridkeeper.cli.common import home_option, settings_option
from gridkeeper.errors import OperationFailed, UsageError
from gridkeeper.paths import resolve_home

# Each open dashboard tab holds an event stream; idle sockets past this are closed first.
WEB_MAX_CONNECTIONS = 256


def _web_settings(settings_path: Path | None) -> Any:
    from gridkeeper.config import find_settings, load_settings

    return load_settings(find_settings(settings_path)).web


def _token(home: Path) -> str:
    """The dashboard's token, created at first use; an unwritable home is a clean error."""
    from gridkeeper.web.auth import ensure_token, token_path

    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        return ensure_token(home)
    except OSError as exc:
        raise OperationFailed(f"cannot read or create {token_path(home)}: {exc}") from None


def _options(func: Any) -> Any:
    port = click.option("--port", type=int, default=None, help="TCP port (default web.port).")
    host = click.option("--host", default=None, help="Listen address (default web.host).")
    prefix = click.option(
        "--root-path", default=None, help="Path prefix behind a reverse proxy (e.g. /gridkeeper)."
    )
    return port(host(prefix(func)))


@click.group(invoke_without_command=True)
@_options
@click.option("--refresh", "refresh_s", type=float, default=None, help="Seconds between refreshes.")
@home_option
@settings_option
@click.pass_context
def web(
    ctx: click.Context,
    port: int | None,
    host: str | None,
    root_path: str | None,
    refresh_s: float | None,
    home: Path | None,
    settings_path: Path | None,
) -> int:
    """Serve the web dashboard (`web url` prints the login link)."""
    ctx.ensure_object(dict)
    ctx.obj.update(home=home, settings_path=settings_path)
    if ctx.invoked_subcommand is not None:
        return 0
    import uvicorn

    from gridkeeper.slowclients import server_options
    from gridkeeper.web.app import WebConfig, build_app

    cfg = _web_settings(settings_path)
    home_dir = resolve_home(home)
    token = _token(home_dir)
    bind = host or cfg.host
    listen = port or cfg.port
    if refresh_s is not None and not 0.5 <= refresh_s <= 300:
        raise UsageError("--refresh must be between 0.5 and 300 seconds")
    app = build_app(
        WebConfig(
            home=home_dir,
            token=token,
            refresh_s=refresh_s or cfg.refresh_s,
            root_path=cfg.root_path if root_path is None else root_path,
        )
    )
    click.echo(
        f"gridkeeper web on http://{bind}:{listen}/ (home {home_dir}); "
        "`gridkeeper web url` prints the login link",
        err=True,
    )
    try:
        uvicorn.run(
            app,
            host=bind,
            port=listen,
            log_level="warning",
            proxy_headers=False,  # the Host check must see what the client sent
            access_log=False,
            # Open event streams never end by themselves: without a bound, SIGTERM (the keeper
            # stopping the built-in dashboard) would wait for every browser tab to go away.
            timeout_graceful_shutdown=3,
            # Idle and half-sent requests closed after 10 s, at most 256 connections: open
            # event streams count, idle sockets give way (gridkeeper.slowclients).
            **server_options(max_connections=WEB_MAX_CONNECTIONS),
        )
    except SystemExit as exc:  # uvicorn exits 1 when the port is taken: say which
        raise OperationFailed(f"cannot serve on {bind}:{listen} (in use?)") from exc
    return 0


@web.command("url")
@_options
@home_option
@settings_option
@click.pass_context
def url(
    ctx: click.Context,
    port: int | None,
    host: str | None,
    root_path: str | None,
    home: Path | None,
    settings_path: Path | None,
) -> int:
    """Print the dashboard's login link (it carries the token: treat it as a password)."""
    parent = ctx.obj or {}
    spath = settings_path or parent.get("settings_path")
    cfg = _web_settings(spath)
    home_dir = resolve_home(home or parent.get("home"))
    token = _token(home_dir)
    if cfg.public_url and host is None and port is None:
        base = cfg.public_url.rstrip("/")
    else:
        bind = host or cfg.host
        shown = "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind
        prefix = (cfg.root_path if root_path is None else root_path).rstrip("/")
        base = f"http://{shown}:{port or cfg.port}{prefix}"
    click.echo(f"{base}/login?token={token}")
    return 0
