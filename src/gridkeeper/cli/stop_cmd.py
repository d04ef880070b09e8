"""`gridkeeper stop`: stop instances; a grid bot's orders stay resting unless asked otherwise
(--cancel-orders, --flatten: see cli.leave_market)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gridkeeper.cli.common import configs_option, home_option
from gridkeeper.cli.keeper_cmd import _keeper_if_anything_ran, _print_results, _spinner, _targets
from gridkeeper.errors import UsageError
from gridkeeper.keeper.client import KeeperClient
from gridkeeper.paths import resolve_home


def _rows_for(client: KeeperClient, args: dict[str, Any]) -> list[dict[str, Any]]:
    """The keeper's status rows of the instances a stop targets."""
    rows = [r for r in client.request("status") or [] if isinstance(r, dict)]
    if args.get("all"):
        return rows
    names, configs = set(args.get("names", [])), set(args.get("configs", []))
    return [r for r in rows if r.get("name") in names or str(r.get("config")) in configs]


@click.command()
@click.argument("names", nargs=-1)
@configs_option
@click.option("--all", "all_", is_flag=True, help="Every instance.")
@click.option(
    "--cancel-orders",
    is_flag=True,
    help="Grid bots: cancel the grid's orders before the process stops (default: they stay "
    "resting on the exchange).",
)
@click.option(
    "--flatten",
    is_flag=True,
    help="Grid bots: cancel the orders, then close the position at market (reduce-only on "
    "perps); the process stops once the bot reports it flat.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("-d", "--daemon", is_flag=True, hidden=True)  # accepted for the seed's commands
@home_option
def stop(
    names: tuple[str, ...],
    configs: tuple[Path, ...],
    all_: bool,
    cancel_orders: bool,
    flatten: bool,
    as_json: bool,
    daemon: bool,
    home: Path | None,
) -> None:
    """Stop instances NAMES (or --config, --all) gracefully: SIGTERM, then SIGKILL after
    stop_timeout.

    A grid bot's orders stay resting on the exchange (it adopts them when it starts again);
    --cancel-orders cancels them first, --flatten also closes the position.

    \b
    Examples:
      gridkeeper stop paper-sol-spot
      gridkeeper stop paper-sol-perp --flatten     # leave the market cleanly
      gridkeeper stop --config config/active/bot.json
      gridkeeper stop --all          (or: gridkeeper stop -)
    """
    from gridkeeper.cli import leave_market

    args = _targets(names, configs, all_)
    if not args:
        raise UsageError("name an instance, give --config FILE, or --all")
    home_dir = resolve_home(home)
    client = _keeper_if_anything_ran(home_dir)
    if client is None:
        if as_json:
            click.echo("[]")
        else:
            click.echo("no keeper has run on this home: nothing to stop")
        return
    orders = leave_market.before_stop(
        home_dir, _rows_for(client, args), cancel_orders=cancel_orders, flatten=flatten
    )
    with _spinner("stopping"):
        results = client.request("stop", **args)
    for result in results:
        result["orders"] = orders.get(str(result.get("name")))
    code = _print_results(results, as_json)
    if not as_json:
        for result in results:
            line = leave_market.describe(str(result.get("name")), result["orders"])
            if line:
                click.echo(f"  {line}")
    raise click.exceptions.Exit(code)
