"""`gridkeeper run-demo` (what `make run` does): the paper exchange and the demo grid bots under
a daemonized keeper, then what they are doing and how to drive them."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx

from gridkeeper.cli.common import home_option, keeper_for, settings_option, warn
from gridkeeper.cli.grid_cmd import read_token
from gridkeeper.cli.keeper_cmd import _context, _default_configs, _print_results
from gridkeeper.cli.status_cmd import _table
from gridkeeper.errors import UsageError
from gridkeeper.paths import SETTINGS_ENV, resolve_home
from gridkeeper.resources import install_demo

GRID_WAIT_S = 30.0


@click.command("run-demo")
@home_option
@settings_option
def run_demo(home: Path | None, settings_path: Path | None) -> None:
    """Start the demo (the paper exchange and two paper grid bots) in the background, wait
    until the grids have orders out, and show them.

    The demo's files are the packaged ones, written to <home>/demo/ (no checkout needed, any
    directory works). With --settings (or $GRIDKEEPER_SETTINGS) it starts that settings file's
    active/ instead: `make run` starts the checkout's config/active/ that way.

    Example: gridkeeper run-demo   (or: gridkeeper run-demo --home /tmp/demo)
    """
    if settings_path is None and not os.environ.get(SETTINGS_ENV):
        settings_path = install_demo(resolve_home(home) / "demo")
    home_dir, spath, settings = _context(home, settings_path)
    if spath is None:
        raise UsageError("no settings file: give --settings FILE")
    configs = _default_configs(spath, settings)
    for cfg in configs:
        warn(cfg.warnings)
    client = keeper_for(home_dir, spath)
    click.echo(f"keeper home: {home_dir}")
    results = client.request("start", configs=[str(c.path) for c in configs], wait=True)
    code = _print_results(results)
    grids = [c for c in configs if c.is_grid_bot and c.web_port]
    deadline = time.monotonic() + GRID_WAIT_S
    for cfg in grids:
        url = f"http://127.0.0.1:{cfg.web_port}"
        summary = _grid_summary(url, read_token(home_dir, cfg.name), deadline)
        if summary is None:
            click.secho(f"{cfg.name}: no grid yet (see: gridkeeper logs {cfg.name})", fg="yellow")
        else:
            click.echo(f"{cfg.name}: {summary}")
        click.echo(f"    control API {url}  (/health, /health/detailed, /api/grid, /openapi.json)")
        click.echo(f"    bearer token in {home_dir / 'tokens' / (cfg.name + '.token')}")
    _table(client.request("status"))
    click.echo(
        "\nNext:\n"
        "  gridkeeper status                      # the table above, live\n"
        "  gridkeeper logs paper-sol-spot -f      # follow a bot\n"
        "  gridkeeper grid show paper-sol-spot    # its grid, orders and profit\n"
        "  gridkeeper alerts                      # what the monitor noticed\n"
        "  gridkeeper shutdown                    # stop everything"
    )
    bindir = Path(sys.executable).parent
    if str(bindir) not in os.environ.get("PATH", "").split(os.pathsep):
        click.echo(
            f"(gridkeeper is {bindir}/gridkeeper; `source {bindir}/activate` puts it on PATH)"
        )
    raise click.exceptions.Exit(code)


def _grid_summary(url: str, token: str | None, deadline: float) -> str | None:
    """One line about a grid once its bot answers and has orders out (None at the deadline).
    Every read needs the bot's token, so another home's bot on the port answers 401."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    while True:
        try:
            reply = httpx.get(url + "/api/grid", headers=headers, timeout=2)
            data: dict[str, Any] = reply.json() if reply.status_code == 200 else {}
            orders = data.get("open_orders") or []
            if orders:
                lower = data.get("grid_lower_price", data.get("lower"))
                upper = data.get("grid_upper_price", data.get("upper"))
                return f"grid {lower}–{upper}, {len(orders)} open orders"
        except (httpx.HTTPError, ValueError):
            pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)
