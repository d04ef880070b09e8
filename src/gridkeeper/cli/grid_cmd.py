"""`gridkeeper grid`: show or change a running grid through its bot's control API.

    gridkeeper grid show NAME                         (also: gridkeeper grid NAME)
    gridkeeper grid adjust NAME --lower X --upper Y   (also: gridkeeper grid NAME --lower X ...)
    gridkeeper grid pause|resume|stop NAME
    gridkeeper grid adopt NAME                        (accept the exchange's position)

The bot's port comes from the instance config (`daemon_config.web_port`), its bearer token from
`<home>/tokens/<NAME>.token`. `--url` talks to an explicit address instead.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

from gridkeeper.cli.common import F, home_option, settings_option
from gridkeeper.cli.grid_client import (
    DEFAULT_URL,
    BadRequest,
    GridControl,
    control_for,
    find_web_port,
    instance_config_path,
    keeper_web_port,
    read_token,
    save_range,
)
from gridkeeper.errors import GridkeeperError, UsageError


def describe(view: dict[str, Any]) -> list[str]:
    profit = view.get("profit", {})
    exchange = view.get("exchange_position")
    lines = [
        f"{view['instance']} {view['symbol']}: {view['status']}"
        + (f" ({view['reason']})" if view.get("reason") else ""),
        f"  range  {view['grid_lower_price']} - {view['grid_upper_price']}  "
        f"points {view['grid_num']}  {view['grid_mode']}/{view['grid_type']}  qty "
        f"{view['quantity']}",
        f"  price  {view.get('last_price')}  position {view.get('position')}"
        + (f"  (exchange {exchange})" if exchange is not None else ""),
        f"  total_pnl {profit.get('total_pnl')}  (what stop_loss/take_profit watch)",
        f"  profit realized {profit.get('realized_grid_profit')}  unrealized "
        f"{profit.get('unrealized_pnl')}  fees {profit.get('fees')}"
        + (f"  funding {profit['funding']}" if profit.get("funding") not in (None, "0") else ""),
        f"  orders {len(view.get('open_orders', []))} open",
    ]
    outside = [lv for lv in view.get("levels", []) if lv.get("outside_band")]
    waiting = [lv for lv in outside if lv.get("client_id") is None]
    at_edge = [lv for lv in outside if lv.get("client_id") is not None]
    band = view.get("price_band") or [None, None]
    if waiting:
        lines.append(
            f"  {len(waiting)} levels wait outside the exchange's price band "
            f"{band[0]} - {band[1]} (slots {', '.join(str(lv['slot']) for lv in waiting)})"
        )
    if at_edge:
        lines.append(
            f"  {len(at_edge)} closes rest at the band's edge until their level is inside it "
            f"(slots {', '.join(str(lv['slot']) for lv in at_edge)})"
        )
    return lines


def _decimal(ctx: click.Context, param: click.Parameter, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number") from None
    if not number.is_finite() or number <= 0:
        raise click.BadParameter(f"{value!r} must be a positive number")
    return number


class _GridGroup(click.Group):
    """`grid NAME [--lower ...]` is shorthand for `grid show NAME` / `grid adjust NAME ...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            adjusting = any(a.split("=")[0] in ("--lower", "--upper", "--num") for a in args)
            args = ["adjust" if adjusting else "show", *args]
        return super().parse_args(ctx, args)


def _bot_target(func: F) -> F:
    """NAME, `--url`, `--home`, `--settings`: which bot a grid command talks to (the command
    passes them to `control_for`)."""
    func = settings_option(func)
    func = home_option(func)
    func = click.option("--url", default=None, help="Control API address (skips the lookup).")(func)
    return click.argument("name", required=False)(func)


@click.group("grid", cls=_GridGroup)
def grid() -> None:
    """Show or adjust a running grid's range (through its bot's control API)."""


@grid.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@_bot_target
def show(
    name: str | None, url: str | None, as_json: bool, home: Path | None, settings_path: Path | None
) -> int:
    """Show the range, levels and profit of grid NAME (or the bot at --url)."""
    view = control_for(name, home, settings_path, url).grid()
    if as_json:
        import orjson

        click.echo(orjson.dumps(view, option=orjson.OPT_INDENT_2).decode())
    else:
        for line in describe(view):
            click.echo(line)
    return 0


@grid.command("adjust")
@click.option("--lower", callback=_decimal, help="New grid_lower_price.")
@click.option("--upper", callback=_decimal, help="New grid_upper_price.")
@click.option("--num", type=click.IntRange(2, 1000), default=None, help="New grid_num.")
@click.option(
    "--position",
    type=click.Choice(["close", "keep"]),
    default=None,
    help="Held position the new levels cannot close: `close` rests closes for it at the book's "
    "top, `keep` keeps its closing orders. Without it such a change is refused.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show the orders that would move and the warnings; change nothing.",
)
@click.option("--yes", "-y", is_flag=True, help="Apply without asking (scripts; no terminal).")
@click.option(
    "--save",
    is_flag=True,
    help="Also write the new range into the instance's config file (comments and order kept).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the preview and the result).")
@_bot_target
def adjust(
    name: str | None,
    lower: Decimal | None,
    upper: Decimal | None,
    num: int | None,
    position: str | None,
    dry_run: bool,
    yes: bool,
    save: bool,
    as_json: bool,
    url: str | None,
    home: Path | None,
    settings_path: Path | None,
) -> int:
    """Move the running grid NAME; only the difference is cancelled and placed.

    Shows the preview (orders cancelled and placed, the position each close covers, warnings)
    and asks before applying; --yes applies without asking, --dry-run only shows.

    Example: gridkeeper grid adjust sol-grid --lower 120 --upper 140 --position close
    """
    from gridkeeper.cli.adjust_view import confirm, render_preview

    if lower is None and upper is None and num is None:
        raise UsageError("give at least one of --lower, --upper, --num")
    if save and dry_run:
        raise UsageError("--save writes the applied range: it does not go with --dry-run")
    if save and name is None:
        raise UsageError("--save needs the instance NAME (to find its config file)")
    control = control_for(name, home, settings_path, url)
    save_to: Path | None = None
    if save:
        from gridkeeper.config.edit import check_grid_range

        assert name is not None
        save_to = instance_config_path(name, home, settings_path).resolve()
        check_grid_range(save_to)  # before anything moves: a file that cannot take it fails now
    try:
        preview = control.adjust(lower, upper, num, position, dry_run=True)
    except BadRequest as exc:
        where = f" ({exc.field})" if exc.field else ""
        raise UsageError(f"refused{where}: {exc}; nothing was changed") from exc
    refused = preview.get("refused")
    if not as_json or dry_run or refused:
        _emit(preview if as_json else render_preview(preview), as_json)
    if refused:
        # Exit 2 as for any refused change (the bot's 400 below): the request cannot be done.
        raise UsageError(f"refused (position): {refused}; nothing was changed")
    if dry_run:
        return 0
    if not yes:
        confirm("apply this change?", as_json)
    try:
        view = control.adjust(lower, upper, num, position)
    except BadRequest as exc:
        where = f" ({exc.field})" if exc.field else ""
        raise UsageError(f"refused{where}: {exc}; nothing was changed") from exc
    saved: str | None = None
    if save_to is not None:
        saved = str(save_range(save_to, view))
    if as_json:
        _emit({"preview": preview, "result": view, "saved": saved}, True)
        return 0
    click.echo("adjusted:")
    for line in describe(view):
        click.echo(line)
    if saved:
        click.echo(f"saved the range to {saved}")
    else:
        click.echo(
            "note: the config file still has the old range; the running grid's range wins "
            "until it is restarted from a new store (--save writes it to the file)"
        )
    return 0


def _emit(data: Any, as_json: bool) -> None:
    if as_json:
        import orjson

        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    else:
        for line in data:
            click.echo(line)


def _command(action: str) -> click.Command:
    @click.command(
        action, help=f"{action.capitalize()} grid NAME (or the bot at --url; needs its token)."
    )
    @_bot_target
    def run(
        name: str | None, url: str | None, home: Path | None, settings_path: Path | None
    ) -> int:
        result = control_for(name, home, settings_path, url).command(action)
        note = "" if result.get("changed") else " (no change)"
        reason = f": {result['reason']}" if result.get("reason") else ""
        click.echo(f"{name or url}: {result['status']}{reason}{note}")
        return 0

    return run


for _action in ("pause", "resume"):
    grid.add_command(_command(_action))


@grid.command("stop")
@click.option(
    "--cancel-orders", is_flag=True, help="Cancel the grid's orders (default: they stay resting)."
)
@click.option(
    "--flatten",
    is_flag=True,
    help="Cancel the orders, then close the position at market (reduce-only on perps).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the bot's answer as JSON.")
@_bot_target
def stop_grid(
    name: str | None,
    cancel_orders: bool,
    flatten: bool,
    as_json: bool,
    url: str | None,
    home: Path | None,
    settings_path: Path | None,
) -> int:
    """Stop trading on grid NAME; the bot process stays up (`gridkeeper stop` ends it).

    Without flags its orders stay resting on the exchange and it says how many.
    """
    from gridkeeper.cli.leave_market import describe as describe_orders

    result = control_for(name, home, settings_path, url).stop(
        cancel_orders=cancel_orders, flatten=flatten
    )
    if as_json:
        _emit(result, True)
        return 0
    reason = f": {result['reason']}" if result.get("reason") else ""
    click.echo(f"{name or url}: {result['status']}{reason}")
    info = {
        "cancelled": result.get("cancelled", []),
        "left_resting": len(result.get("left_resting", [])),
        "close": result.get("close"),
    }
    line = describe_orders(name or "NAME", info)
    if line:
        click.echo(f"  {line}")
    return 0


@grid.command("adopt")
@_bot_target
def adopt(name: str | None, url: str | None, home: Path | None, settings_path: Path | None) -> int:
    """Accept the exchange's position as grid NAME's (after a position_mismatch pause).

    The difference is booked at the mark price (total PnL does not jump), the grid is laid out
    again from the new position with closing orders for it, and trading resumes.
    """
    view = control_for(name, home, settings_path, url).adopt()
    done = view.get("adopted", {})
    click.echo(
        f"adopted: position {done.get('before')} -> {done.get('after')} at {done.get('mark_price')}"
    )
    for line in describe(view):
        click.echo(line)
    return 0


__all__ = [
    "DEFAULT_URL",
    "GridControl",
    "GridkeeperError",
    "control_for",
    "describe",
    "find_web_port",
    "grid",
    "instance_config_path",
    "keeper_web_port",
    "read_token",
]
