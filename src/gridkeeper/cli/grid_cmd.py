"""`gridkeeper grid`: show or change a running grid through its bot's control API.

    gridkeeper grid show NAME                         (also: gridkeeper grid NAME)
    gridkeeper grid adjust NAME --lower X --upper Y   (also: gridkeeper grid NAME --lower X ...)
    gridkeeper grid pause|resume|stop NAME
    gridkeeper grid adopt NAME                        (accept the exchange's position)

The bot's port comes from the instance config (`daemon_config.web_port`), its bearer token from
`<home>/tokens/<NAME>.token`. `--url` talks to an explicit address instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click
import httpx

from gridkeeper.cli.common import home_option, settings_option
from gridkeeper.config import find_settings, instances_dir, load_instance, load_settings
from gridkeeper.errors import ConfigError, GridkeeperError, OperationFailed, UsageError
from gridkeeper.paths import resolve_home

DEFAULT_URL = "http://127.0.0.1:5000"


class BadRequest(UsageError):
    """The bot refused the request as invalid (HTTP 400); nothing was changed."""

    def __init__(self, message: str, field: str | None) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class GridControl:
    """A small client of one bot's control API."""

    url: str
    token: str | None = None
    timeout: float = 10.0

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = httpx.request(
                method,
                self.url.rstrip("/") + path,
                json=body,
                headers=headers,
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise OperationFailed(
                f"the control API at {self.url} does not answer ({exc.__class__.__name__}); "
                "is the bot running?"
            ) from exc
        try:
            data = response.json()
        except ValueError:
            data = {"error": response.text[:200]}
        if response.status_code == 400:
            raise BadRequest(str(data.get("error", "bad request")), data.get("field"))
        if response.status_code == 401:
            raise OperationFailed(f"{self.url} refused the token (HTTP 401): check the token file")
        if response.status_code >= 400 and path != "/health":
            raise OperationFailed(
                f"{self.url}{path}: HTTP {response.status_code}: {data.get('error', data)}"
            )
        return data

    def grid(self) -> dict[str, Any]:
        result: dict[str, Any] = self._send("GET", "/api/grid")
        return result

    def balances(self) -> dict[str, Any]:
        result: dict[str, Any] = self._send("GET", "/api/balances")
        return result

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._send("GET", "/health/detailed")
        return result

    def adjust(
        self,
        lower: Decimal | None,
        upper: Decimal | None,
        num: int | None,
        position: str | None = None,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"dry_run": True} if dry_run else {}
        if position is not None:
            body["position"] = position
        if lower is not None:
            body["grid_lower_price"] = format(lower, "f")
        if upper is not None:
            body["grid_upper_price"] = format(upper, "f")
        if num is not None:
            body["grid_num"] = num
        result: dict[str, Any] = self._send("POST", "/api/grid/adjust", body)
        return result

    def adopt(self) -> dict[str, Any]:
        result: dict[str, Any] = self._send("POST", "/api/grid/adopt", {})
        return result

    def command(self, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._send("POST", f"/api/{name}", body or {})
        return result

    def stop(self, *, cancel_orders: bool = False, flatten: bool = False) -> dict[str, Any]:
        """`POST /api/stop`: stop trading; see bot.api for what the flags do."""
        return self.command("stop", {"cancel_orders": cancel_orders, "flatten": flatten})


def read_token(home: Path, name: str) -> str | None:
    path = home / "tokens" / f"{name}.token"
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def keeper_web_port(name: str, home: Path) -> int | None:
    """The web_port of an instance the keeper of `home` knows (it knows each instance's config,
    so this works from any directory); None when no keeper answers or it has no such instance.
    Never starts a keeper."""
    from gridkeeper.keeper.client import KeeperClient

    client = KeeperClient(home, timeout=10)
    try:
        if client.ping() is None:
            return None
        rows = client.request("status", names=[name])
    except GridkeeperError:
        return None
    for row in rows if isinstance(rows, list) else []:
        if row.get("name") == name:
            if row.get("port") is None:
                raise UsageError(
                    f"instance {name!r} ({row.get('config')}) has no daemon_config.web_port"
                )
            return int(row["port"])
    return None


def find_web_port(name: str, settings_path: Path | None, home: Path | None = None) -> int:
    """The instance's web_port: through the keeper when it runs the instance, else from its
    config in the instances directory."""
    if home is not None:
        port = keeper_web_port(name, home)
        if port is not None:
            return port
    found = find_settings(settings_path)
    settings = load_settings(found)
    folder = instances_dir(found, settings)
    for path in sorted(folder.glob("*.json")):
        try:
            inst = load_instance(path, settings)
        except ConfigError:
            continue
        if inst.name == name:
            if inst.web_port is None:
                raise UsageError(f"instance {name!r} ({path}) has no daemon_config.web_port")
            return inst.web_port
    raise UsageError(
        f"no instance named {name!r}: the keeper of {home or 'this home'} does not know it and "
        f"it is not in {folder} (run from the project directory, or give --home or --settings)"
    )


def control_for(
    name: str | None, home: Path | None, settings_path: Path | None, url: str | None
) -> GridControl:
    home_dir = resolve_home(home)
    if url is not None:
        return GridControl(url, read_token(home_dir, name) if name else None)
    if name is None:
        raise UsageError("give an instance NAME or --url")
    port = find_web_port(name, settings_path, home_dir)
    return GridControl(f"http://127.0.0.1:{port}", read_token(home_dir, name))


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


url_option = click.option("--url", default=None, help="Control API address (skips the lookup).")


@click.group("grid", cls=_GridGroup)
def grid() -> None:
    """Show or adjust a running grid's range (through its bot's control API)."""


@grid.command("show")
@click.argument("name", required=False)
@url_option
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@home_option
@settings_option
def show(
    name: str | None, url: str | None, as_json: bool, home: Path | None, settings_path: Path | None
) -> int:
    """Show the grid's range, levels and profit."""
    view = control_for(name, home, settings_path, url).grid()
    if as_json:
        import orjson

        click.echo(orjson.dumps(view, option=orjson.OPT_INDENT_2).decode())
    else:
        for line in describe(view):
            click.echo(line)
    return 0


@grid.command("adjust")
@click.argument("name", required=False)
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
@url_option
@home_option
@settings_option
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
    """Move a running grid; only the difference is cancelled and placed.

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
    try:
        preview = control.adjust(lower, upper, num, position, dry_run=True)
    except BadRequest as exc:
        where = f" ({exc.field})" if exc.field else ""
        raise UsageError(f"refused{where}: {exc}; nothing was changed") from exc
    if not as_json or dry_run:
        _emit(preview if as_json else render_preview(preview), as_json)
    if preview.get("refused"):
        if not as_json or not dry_run:
            click.echo(f"error: refused: {preview['refused']}; nothing was changed", err=True)
        return 1
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
    if save:
        assert name is not None
        saved = str(save_range(name, view, home, settings_path))
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


def save_range(
    name: str, view: dict[str, Any], home: Path | None, settings_path: Path | None
) -> Path:
    """Write the grid's range (from the bot's answer) into the instance's config file."""
    from gridkeeper.config.edit import write_grid_range

    path = instance_config_path(name, home, settings_path)
    write_grid_range(
        path,
        lower=Decimal(view["grid_lower_price"]),
        upper=Decimal(view["grid_upper_price"]),
        num=int(view["grid_num"]),
    )
    return path


def instance_config_path(name: str, home: Path | None, settings_path: Path | None) -> Path:
    """The config file of instance `name`: the keeper's when it runs it, else the instances
    directory's."""
    from gridkeeper.keeper.client import KeeperClient

    client = KeeperClient(resolve_home(home), timeout=10)
    try:
        rows = client.request("status", names=[name]) if client.ping() is not None else []
    except GridkeeperError:
        rows = []
    for row in rows if isinstance(rows, list) else []:
        if row.get("name") == name and row.get("config"):
            return Path(row["config"])
    found = find_settings(settings_path)
    settings = load_settings(found)
    folder = instances_dir(found, settings)
    for path in sorted(folder.glob("*.json")):
        try:
            if load_instance(path, settings).name == name:
                return path
        except ConfigError:
            continue
    raise UsageError(f"no config file for instance {name!r} (looked in {folder})")


def _command(action: str) -> click.Command:
    @click.command(action, help=f"{action.capitalize()} the grid (needs its token).")
    @click.argument("name", required=False)
    @url_option
    @home_option
    @settings_option
    def run(
        name: str | None, url: str | None, home: Path | None, settings_path: Path | None
    ) -> int:
        result = control_for(name, home, settings_path, url).command(action)
        note = "" if result.get("changed") else " (no change)"
        reason = f": {result['reason']}" if result.get("reason") else ""
        click.echo(f"{name or url}: {result['status']}{reason}{note}")
        return 0

    return run


for _action in ("pause", "resume", "stop"):
    grid.add_command(_command(_action))


@grid.command("adopt")
@click.argument("name", required=False)
@url_option
@home_option
@settings_option
def adopt(name: str | None, url: str | None, home: Path | None, settings_path: Path | None) -> int:
    """Accept the exchange's position as the grid's (after a position_mismatch pause).

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


__all__ = ["DEFAULT_URL", "GridControl", "GridkeeperError", "control_for", "describe", "grid"]
