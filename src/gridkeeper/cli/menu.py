"""The operator menu (`python run.py --cli`): a thin prompt loop over the keeper's socket API
and each bot's control API.

Entries are numbered 1-11 without gaps (10 is the seed's "adjust the range", kept where the
seed document puts it). Grid actions offer only grid instances; an instance is chosen by its
number in the list, by name, or (grid actions) by a control address. Entry 10 shows the preview
of the change and asks before applying it; stopping asks too, and what to do with the orders.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

from gridkeeper.cli.grid_client import DEFAULT_URL, GridControl, find_web_port, read_token
from gridkeeper.errors import GridkeeperError

MENU = """
gridkeeper operator menu
  1  status of instances
  2  balances (through a bot)
  3  open orders of a grid
  4  start an instance
  5  stop an instance
  6  pause a grid
  7  resume a grid
  8  logs of an instance
  9  alerts
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


def pick(rows: list[dict[str, Any]], answer: str) -> dict[str, Any] | None:
    """The row `answer` names: its number in the list shown (1-based) or its name."""
    if answer.isdigit() and 1 <= int(answer) <= len(rows):
        return rows[int(answer) - 1]
    return next((r for r in rows if r.get("name") == answer), None)


def _list(rows: list[dict[str, Any]], what: str) -> None:
    if not rows:
        return
    click.echo(f"{what}:")
    for i, row in enumerate(rows, start=1):
        port = f"  http://127.0.0.1:{row['port']}" if row.get("port") else ""
        click.echo(f"  {i:>2}  {row['name']:<24} {row.get('state', ''):<9}{port}")


def grid_rows(home: Path) -> list[dict[str, Any]]:
    """Running grid bots only: the grid actions make no sense for other programs."""
    from gridkeeper.cli.grid_probe import LIVE, is_grid

    return [r for r in keeper_status(home) or [] if is_grid(home, r) and r.get("state") in LIVE]


def choose_grid(home: Path) -> tuple[str | None, GridControl]:
    """Ask for a grid: its number, its name, or a control address; find the token."""
    rows = grid_rows(home)
    _list(rows, "running grids")
    answer = click.prompt("grid (number, name or control address)", default=DEFAULT_URL).strip()
    row = pick(rows, answer)
    if row is not None:
        name = str(row["name"])
        return name, GridControl(f"http://127.0.0.1:{row['port']}", read_token(home, name))
    if "://" not in answer and ":" not in answer and "/" not in answer:
        # A name the keeper does not run (yet): its config in ./config/active gives the port.
        port = find_web_port(answer, None, home)
        return answer, GridControl(f"http://127.0.0.1:{port}", read_token(home, answer))
    if "://" not in answer:
        answer = f"http://{answer}"
    found = next((r for r in rows if answer.rstrip("/").endswith(f":{r.get('port')}")), None)
    known = str(found["name"]) if found is not None else None
    token = read_token(home, known) if known else _token_by_port(home, answer)
    return known, GridControl(answer, token)


def choose_instance(home: Path) -> str | None:
    """Ask for any instance the keeper knows: by number or name (a name it does not know yet,
    e.g. one to start, is taken as typed)."""
    rows = keeper_status(home) or []
    _list(rows, "instances")
    answer = click.prompt("instance (number or name)", default="", show_default=False).strip()
    if not answer:
        click.echo("nothing chosen")
        return None
    row = pick(rows, answer)
    return str(row["name"]) if row is not None else answer


def _token_by_port(home: Path, url: str) -> str | None:
    """Without a keeper: the token of the one bot whose config uses this port, if any."""
    try:
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
    """Entry 10: new bounds, the preview (orders, exits, warnings), then confirmation."""
    from gridkeeper.cli.adjust_view import render_preview

    _, control = choose_grid(home)
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
    position: str | None = None
    while True:
        try:
            preview = control.adjust(lower, upper, None, position, dry_run=True)
        except GridkeeperError as exc:
            click.echo(f"refused: {exc}; nothing was changed")
            return
        for line in render_preview(preview):
            click.echo(line)
        if not preview.get("refused"):
            break
        if position is not None:
            click.echo("nothing was changed")
            return
        # The new levels cannot close all the held position: the operator chooses explicitly.
        choice = click.prompt(
            "  close it at the book's top (close), keep its closing orders (keep), or cancel",
            type=click.Choice(["close", "keep", "cancel"]),
            default="cancel",
        )
        if choice == "cancel":
            click.echo("nothing was changed")
            return
        position = choice
    if not click.confirm("apply this change?", default=False):
        click.echo("nothing was changed")
        return
    try:
        result = control.adjust(lower, upper, None, position)
    except GridkeeperError as exc:
        click.echo(f"refused: {exc}; nothing was changed")
        return
    click.echo(f"applied: {result['grid_lower_price']} - {result['grid_upper_price']}")


def adopt_position(home: Path) -> None:
    _, control = choose_grid(home)
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
    from gridkeeper.cli.grid_cmd import describe

    view = choose_grid(home)[1].grid()
    for line in describe(view):
        click.echo(line)
    for order in view["open_orders"]:
        click.echo(
            f"  {order['side']:<4} {order['price']:>12} x {order['quantity']:<8} "
            f"{order['status']}{' reduce-only' if order['reduce_only'] else ''}"
        )


def show_balances(home: Path) -> None:
    for asset, row in sorted(choose_grid(home)[1].balances().items()):
        click.echo(f"  {asset:<8} available {row['available']:>16}  locked {row['locked']}")


def grid_command(home: Path, action: str) -> None:
    name, control = choose_grid(home)
    result = control.command(action)
    note = "" if result.get("changed") else " (no change)"
    reason = f": {result['reason']}" if result.get("reason") else ""
    click.echo(f"  {name or control.url}: {result['status']}{reason}{note}")


def start_instance(home: Path) -> None:
    name = choose_instance(home)
    if name is not None:
        _keeper_op(home, "start", name)


def stop_instance(home: Path) -> None:
    """Entry 5: asks what to do with a grid's orders, then for confirmation."""
    from gridkeeper.cli import leave_market
    from gridkeeper.cli.grid_probe import is_grid

    name = choose_instance(home)
    if name is None:
        return
    rows = [r for r in keeper_status(home) or [] if r.get("name") == name]
    cancel_orders = flatten = False
    if rows and is_grid(home, rows[0]):
        what = click.prompt(
            "  its orders: leave them resting (keep), cancel them (cancel), or cancel and close "
            "the position (flatten)",
            type=click.Choice(["keep", "cancel", "flatten"]),
            default="keep",
        )
        cancel_orders, flatten = what == "cancel", what == "flatten"
    if not click.confirm(f"stop {name}?", default=False):
        click.echo("not stopped")
        return
    if cancel_orders or flatten or rows:
        done = leave_market.before_stop(home, rows, cancel_orders=cancel_orders, flatten=flatten)
        line = leave_market.describe(name, done.get(name))
        if line:
            click.echo(f"  {line}")
    _keeper_op(home, "stop", name)


def _keeper_op(home: Path, op: str, name: str) -> None:
    try:
        from gridkeeper.keeper.client import KeeperClient

        for row in KeeperClient(home).request(op, names=[name]) or []:
            click.echo(f"  {row.get('name')}: {row.get('message') or row.get('outcome')}")
    except (GridkeeperError, OSError) as exc:
        click.echo(f"  {op} failed: {exc}")


def _gridkeeper(*args: str) -> None:
    from gridkeeper.cli.main import main as gridkeeper_main

    gridkeeper_main(list(args))


def show_logs(home: Path) -> None:
    name = choose_instance(home)
    if name is not None:
        _gridkeeper("logs", name, "-n", "40", "--home", str(home))


def show_alerts(home: Path) -> None:
    _gridkeeper("alerts", "--since", "1d", "--home", str(home))


def actions(home: Path) -> dict[str, Callable[[], Any]]:
    return {
        "1": lambda: show_status(home),
        "2": lambda: show_balances(home),
        "3": lambda: show_orders(home),
        "4": lambda: start_instance(home),
        "5": lambda: stop_instance(home),
        "6": lambda: grid_command(home, "pause"),
        "7": lambda: grid_command(home, "resume"),
        "8": lambda: show_logs(home),
        "9": lambda: show_alerts(home),
        "10": lambda: adjust_range(home),
        "11": lambda: adopt_position(home),
    }


def run_menu(home: Path) -> None:
    entries = actions(home)
    while True:
        click.echo(MENU)
        choice = click.prompt("choose", default="0").strip()
        if choice == "0":
            click.echo("bye")
            return
        action = entries.get(choice)
        if action is None:
            click.echo(f"no entry {choice!r}")
            continue
        try:
            action()
        except GridkeeperError as exc:
            click.echo(f"error: {exc}")
