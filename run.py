"""Seed compatibility: `python run.py --cli` opens the operator menu; the seed's strategy flags
(`--symbol ... --strategy perp_grid --grid-lower ...`) run one grid bot (gridkeeper.cli.legacy);
`python run.py --config FILE` runs the grid of an instance file (what a seed instance's
`script_path: run.py` means to the keeper).

The menu is a thin prompt loop over the keeper's socket API and each bot's control API; entry 10
adjusts a running grid's range exactly as the seed document describes. See docs/migrating.md.
"""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

import click

from gridkeeper.cli.grid_cmd import DEFAULT_URL, GridControl, describe, read_token
from gridkeeper.errors import GridkeeperError
from gridkeeper.paths import resolve_home

MENU = """
gridkeeper operator menu
  1  status of instances
  2  balances (through a bot)
  3  open orders of a grid
  4  start an instance
  5  stop an instance
 10  adjust a running grid's range
 11  adopt the exchange's position (after a position_mismatch pause)
  0  exit
"""


def keeper_status(home: Path) -> list[dict[str, Any]] | None:
    """The keeper's status objects, or None when no keeper answers."""
    try:
        from gridkeeper.keeper.client import KeeperClient

        result = KeeperClient(home, timeout=10).request("status")
    except (GridkeeperError, OSError, ImportError):
        return None
    return list(result or [])


def show_status(home: Path) -> list[dict[str, Any]]:
    rows = keeper_status(home)
    if rows is None:
        click.echo("the keeper is not running (start it with `gridkeeper start -d`)")
        return []
    if not rows:
        click.echo("no instances")
    for row in rows:
        port = f"  http://127.0.0.1:{row['port']}" if row.get("port") else ""
        click.echo(f"  {row['name']:<24} {row['state']:<9} pid {row.get('pid') or '-'}{port}")
    return rows


def choose_control(home: Path) -> GridControl:
    """Ask for a control address or an instance name; find the token when we can."""
    rows = [r for r in (keeper_status(home) or []) if r.get("state") == "running"]
    if rows:
        click.echo("running instances:")
        for row in rows:
            click.echo(f"  {row['name']}  http://127.0.0.1:{row.get('port')}")
    answer = click.prompt("control address or instance", default=DEFAULT_URL).strip()
    by_name = {r["name"]: r for r in rows}
    if answer in by_name and by_name[answer].get("port"):
        url = f"http://127.0.0.1:{by_name[answer]['port']}"
        return GridControl(url, read_token(home, answer))
    if "://" not in answer:
        answer = f"http://{answer}"
    name = next((r["name"] for r in rows if answer.rstrip("/").endswith(f":{r.get('port')}")), None)
    token = read_token(home, name) if name else _token_by_port(home, answer)
    return GridControl(answer, token)


def _token_by_port(home: Path, url: str) -> str | None:
    """Without a keeper: the token of the one bot whose config uses this port, if any."""
    try:
        from gridkeeper.cli.grid_cmd import find_web_port

        port = int(url.rstrip("/").rsplit(":", 1)[1])
        for path in sorted((home / "tokens").glob("*.token")):
            try:
                if find_web_port(path.stem, None) == port:
                    return read_token(home, path.stem)
            except GridkeeperError:
                continue
    except (ValueError, IndexError, OSError):
        return None
    return None


def ask_price(label: str, current: str) -> Decimal | None:
    while True:
        text = click.prompt(
            f"new {label} (blank keeps {current})", default="", show_default=False
        ).strip()
        if not text:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            click.echo(f"  {text!r} is not a number")
            continue
        if value.is_finite() and value > 0:
            return value
        click.echo("  the price must be positive")


def adjust_range(home: Path) -> None:
    control = choose_control(home)
    view = control.grid()
    click.echo(
        f"current range: {view['grid_lower_price']} - {view['grid_upper_price']} "
        f"({view['grid_num']} points), price {view.get('last_price')}"
    )
    lower = ask_price("lower bound", view["grid_lower_price"])
    upper = ask_price("upper bound", view["grid_upper_price"])
    if lower is None and upper is None:
        click.echo("nothing to change")
        return
    try:
        result = control.adjust(lower, upper, None)
    except GridkeeperError as exc:
        if getattr(exc, "field", None) != "position":
            click.echo(f"refused: {exc}; nothing was changed")
            return
        # The new levels cannot close all the held position: the operator chooses explicitly.
        click.echo(f"{exc}")
        choice = click.prompt(
            "  close it at the book's top (close), keep its closing orders (keep), or cancel",
            type=click.Choice(["close", "keep", "cancel"]),
            default="cancel",
        )
        if choice == "cancel":
            click.echo("nothing was changed")
            return
        try:
            result = control.adjust(lower, upper, None, choice)
        except GridkeeperError as again:
            click.echo(f"refused: {again}; nothing was changed")
            return
    click.echo(f"applied: {result['grid_lower_price']} - {result['grid_upper_price']}")


def adopt_position(home: Path) -> None:
    control = choose_control(home)
    view = control.grid()
    click.echo(
        f"status {view['status']}{' (' + view['reason'] + ')' if view.get('reason') else ''}; "
        f"grid position {view.get('position')}, exchange {view.get('exchange_position')}"
    )
    if not click.confirm("accept the exchange's position as the grid's?", default=False):
        click.echo("nothing was changed")
        return
    result = control.adopt()
    done = result.get("adopted", {})
    click.echo(f"adopted: {done.get('before')} -> {done.get('after')} at {done.get('mark_price')}")


def show_orders(home: Path) -> None:
    view = choose_control(home).grid()
    for line in describe(view):
        click.echo(line)
    for order in view["open_orders"]:
        click.echo(
            f"  {order['side']:<4} {order['price']:>12} x {order['quantity']:<8} "
            f"{order['status']}{' reduce-only' if order['reduce_only'] else ''}"
        )


def show_balances(home: Path) -> None:
    for asset, row in sorted(choose_control(home).balances().items()):
        click.echo(f"  {asset:<8} available {row['available']:>16}  locked {row['locked']}")


def keeper_op(home: Path, op: str) -> None:
    name = click.prompt("instance name").strip()
    try:
        from gridkeeper.keeper.client import KeeperClient

        for row in KeeperClient(home).request(op, names=[name]) or []:
            click.echo(f"  {row.get('name')}: {row.get('message') or row.get('outcome')}")
    except (GridkeeperError, OSError) as exc:
        click.echo(f"  {op} failed: {exc}")


@click.command()
@click.option("--cli", "interactive", is_flag=True, help="Open the interactive operator menu.")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keeper home (default $GRIDKEEPER_HOME or ~/.gridkeeper).",
)
def main(interactive: bool, home: Path | None) -> None:
    """Seed entry point. Use `--cli` for the menu; everything else is `gridkeeper --help`."""
    if not interactive:
        click.echo("usage: python run.py --cli   (or see `gridkeeper --help`)")
        return
    home_dir = resolve_home(home)
    actions = {
        "1": lambda: show_status(home_dir),
        "2": lambda: show_balances(home_dir),
        "3": lambda: show_orders(home_dir),
        "4": lambda: keeper_op(home_dir, "start"),
        "5": lambda: keeper_op(home_dir, "stop"),
        "10": lambda: adjust_range(home_dir),
        "11": lambda: adopt_position(home_dir),
    }
    while True:
        click.echo(MENU)
        choice = click.prompt("choose", default="0").strip()
        if choice == "0":
            click.echo("bye")
            return
        action = actions.get(choice)
        if action is None:
            click.echo(f"no entry {choice!r}")
            continue
        try:
            action()
        except GridkeeperError as exc:
            click.echo(f"error: {exc}")


def entry(argv: list[str]) -> int:
    """Which of the seed's modes the arguments ask for."""
    from gridkeeper.cli.legacy import is_strategy_mode
    from gridkeeper.cli.legacy import run as run_legacy
    from gridkeeper.cli.main import main as gridkeeper_main

    if "--cli" not in argv and is_strategy_mode(argv):
        return run_legacy(argv)
    if "--cli" not in argv and any(a == "--config" or a.startswith("--config=") for a in argv):
        return gridkeeper_main(["bot", *argv])
    main(args=argv, standalone_mode=False)
    return 0


if __name__ == "__main__":
    sys.exit(entry(sys.argv[1:]))
