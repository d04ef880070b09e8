"""`gridkeeper new`: a grid config written by answering questions (or by flags, for scripts),
checked against the market while it asks: fees, tick/step/minimum, price band, capital."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from gridkeeper.cli import wizard_market
from gridkeeper.cli.common import home_option, settings_option
from gridkeeper.cli.wizard_plan import (
    ASSUMED_MAKER_FEE,
    GridType,
    Need,
    Refusal,
    capital,
    check_band,
    check_capital,
    layout,
    suggest_range,
)
from gridkeeper.config.exchange import default_endpoints
from gridkeeper.config.instance import NAME_PATTERN
from gridkeeper.errors import GridkeeperError, UsageError
from gridkeeper.exchange.errors import ExchangeError
from gridkeeper.paths import resolve_home

T = TypeVar("T")
FIRST_WEB_PORT = 5100
DEFAULT_LEVELS = "10"


class Asker:
    """A flag's value is checked once (a refusal exits 2); a missing one is asked on a terminal
    (a refusal asks again) or takes its default when scripted."""

    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive

    def __call__(
        self,
        flag: str,
        label: str,
        given: str | None,
        default: str | None,
        convert: Callable[[str], T],
    ) -> T:
        if given is not None or not self.interactive:
            text = given if given is not None else default
            if text is None:
                raise UsageError(f"{flag} is required (no terminal to ask on)")
            try:
                return convert(text)
            except (Refusal, ValueError, InvalidOperation) as exc:
                raise UsageError(f"refused {flag} {text}: {exc}") from None
        while True:
            text = click.prompt(label, default=default, show_default=default is not None)
            try:
                return convert(text.strip())
            except (Refusal, ValueError, InvalidOperation) as exc:
                click.secho(f"refused: {exc}", fg="red")


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Refusal(f"{text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise Refusal(f"{text} must be a positive number")
    return value


def _choice(options: list[str]) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if text not in options:
            raise Refusal(f"{text!r} is not one of {', '.join(options)}")
        return text

    return convert


@click.command("new")
@click.option("--exchange", type=click.Choice(["paper", "backpack"]), help="Where to trade.")
@click.option("--url", help="The exchange's REST URL (default: paper 127.0.0.1:8686, Backpack).")
@click.option("--market-type", type=click.Choice(["spot", "perp"]), help="spot or perp.")
@click.option("--symbol", help="Market symbol, e.g. SOL_USDC (listed from the exchange).")
@click.option("--grid-type", type=click.Choice(["neutral", "long", "short"]), help="Perp only.")
@click.option("--lower", help="Lowest grid price (default: suggested from recent prices).")
@click.option("--upper", help="Highest grid price (default: suggested from recent prices).")
@click.option("--levels", help="Number of price points, both bounds included (default 10).")
@click.option("--quantity", help="Base quantity per order (default: from the balances).")
@click.option("--name", help="Instance name; the file is active/NAME.json.")
@click.option("--dry-run", is_flag=True, help="Print the file instead of writing it.")
@home_option
@settings_option
def new(
    exchange: str | None,
    url: str | None,
    market_type: str | None,
    symbol: str | None,
    grid_type: str | None,
    lower: str | None,
    upper: str | None,
    levels: str | None,
    quantity: str | None,
    name: str | None,
    dry_run: bool,
    home: Path | None,
    settings_path: Path | None,
) -> None:
    """Write a grid config (config/active/NAME.json) by answering questions, each answer
    checked against the market; then `config check` it and print how to start it.

    Example: gridkeeper new    (scripted: gridkeeper new --exchange paper --symbol SOL_USDC
    --lower 140 --upper 160 --levels 11 --quantity 0.1 --name sol-grid)
    """
    ask = Asker(sys.stdin.isatty())
    exchange = ask(
        "--exchange", "exchange (paper/backpack)", exchange, "paper", _choice(["paper", "backpack"])
    )
    base_url = (url or default_endpoints(exchange)[0]).rstrip("/")
    creds = wizard_market.keys(exchange, resolve_home(home))
    try:
        listed = wizard_market.markets(base_url, creds)
    except (ExchangeError, OSError) as exc:
        hint = " (start it: gridkeeper start paper-exchange)" if exchange == "paper" else ""
        raise GridkeeperError(f"cannot read the markets of {base_url}: {exc}{hint}") from None
    kind = ask(
        "--market-type", "market type (spot/perp)", market_type, "spot", _choice(["spot", "perp"])
    )
    symbols = [m.symbol for m in listed if m.market_type == kind.upper()]
    if not symbols:
        raise UsageError(f"{base_url} lists no {kind} markets")
    if symbol is None and ask.interactive:
        click.echo(
            f"{kind} markets: {', '.join(symbols[:40])}{' ...' if len(symbols) > 40 else ''}"
        )
    default_symbol = next((s for s in symbols if s.startswith("SOL_")), symbols[0])
    chosen = ask("--symbol", "symbol", symbol, default_symbol, _choice(symbols))
    market = next(m for m in listed if m.symbol == chosen)
    gtype: GridType = "neutral"
    if kind == "perp":
        picked = ask(
            "--grid-type",
            "grid type (neutral/long/short)",
            grid_type,
            "neutral",
            _choice(["neutral", "long", "short"]),
        )
        gtype = "long" if picked == "long" else "short" if picked == "short" else "neutral"
    snap = wizard_market.snapshot(base_url, market, creds)
    fee = market.maker_fee if creds is not None else ASSUMED_MAKER_FEE
    price = snap.price
    suggested = suggest_range(price, snap.klines, market)
    band_low, band_high = market.band(price)
    seen = (
        f"; last {wizard_market.KLINE_HOURS}h {suggested.low_seen} - {suggested.high_seen}"
        if suggested.low_seen is not None
        else ""
    )
    band = f"; price band {band_low} - {band_high}" if band_low is not None else ""
    click.echo(
        f"{chosen}: price {price}{seen}{band}; tick {market.tick_size}, step "
        f"{market.step_size}, minimum {market.min_quantity}; maker fee {(fee * 100).normalize():f}%"
        + ("" if creds is not None else " (assumed: no keys to read the account's fees)")
    )
    click.echo(f"suggested range: {suggested.lower} - {suggested.upper}")

    def lower_ok(text: str) -> Decimal:
        value = _decimal(text)
        if band_low is not None and value < band_low:
            raise Refusal(f"{value} is below the price band at {price} (lowest {band_low})")
        return value

    low = ask("--lower", "lower price", lower, str(suggested.lower), lower_ok)

    def upper_ok(text: str) -> Decimal:
        value = _decimal(text)
        check_band(low, value, market, price)
        return value

    high = ask("--upper", "upper price", upper, str(suggested.upper), upper_ok)

    def levels_ok(text: str) -> int:
        try:
            count = int(text)
        except ValueError:
            raise Refusal(f"{text!r} is not a whole number") from None
        layout(low, high, count, market.min_quantity, market, fee)
        return count

    num = ask("--levels", "levels (price points)", levels, DEFAULT_LEVELS, levels_ok)
    margin = snap.initial_margin if snap.initial_margin is not None else Decimal(1)

    def quantity_ok(text: str) -> Decimal:
        grid = layout(low, high, num, _decimal(text), market, fee)
        needs = capital(grid, price, market, gtype, snap.balances, margin)
        _table(needs)
        check_capital(needs)
        return grid.quantity

    qty = ask("--quantity", "quantity per level", quantity, str(market.min_quantity), quantity_ok)
    folder = _active_dir(settings_path, dry_run)
    default_name = _free_name(folder, f"{exchange}-{market.base_symbol}-{kind}-grid".lower())

    def name_ok(text: str) -> str:
        if not re.match(NAME_PATTERN, text):
            raise Refusal("use letters, digits, '.', '_', '-' (at most 64)")
        if folder is not None and (folder / f"{text}.json").exists():
            raise Refusal(f"{folder / (text + '.json')} exists")
        return text

    inst = ask("--name", "name", name, default_name, name_ok)
    doc = _document(inst, exchange, url, market.symbol, kind, gtype, low, high, num, qty, folder)
    text = orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
    if dry_run or folder is None:
        click.echo(text, nl=False)
        return
    path = folder / f"{inst}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    click.echo(f"wrote {path}")
    from gridkeeper.cli.config_cmd import check

    ctx = click.get_current_context()
    try:
        ctx.invoke(check, files=(path,), settings_path=settings_path, offline=False)
    except click.exceptions.Exit as exc:
        if exc.exit_code:
            raise
    click.echo(f"start it:  gridkeeper start -d --config {path}")


def _table(needs: list[Need]) -> None:
    click.echo(f"  {'asset':<8}{'needed':>14}{'available':>14}  for")
    for n in needs:
        have = "?" if n.available is None else str(n.available)
        mark = "  <- short" if n.short else ""
        click.echo(f"  {n.asset:<8}{n.needed!s:>14}{have:>14}  {n.what}{mark}")


def _active_dir(settings_path: Path | None, dry_run: bool) -> Path | None:
    from gridkeeper.config import find_settings, instances_dir, load_settings

    spath = find_settings(settings_path)
    if spath is None:
        if dry_run:
            return None
        raise UsageError(
            "no config tree here (config/daemon_config.json): run `gridkeeper init` first, "
            "or give --settings FILE, or --dry-run to print the file"
        )
    return instances_dir(spath, load_settings(spath))


def _free_name(folder: Path | None, stem: str) -> str:
    if folder is None or not (folder / f"{stem}.json").exists():
        return stem
    n = 2
    while (folder / f"{stem}-{n}.json").exists():
        n += 1
    return f"{stem}-{n}"


def _web_port(folder: Path | None) -> int:
    """The first port above FIRST_WEB_PORT no active instance uses."""
    used: set[int] = set()
    for path in folder.glob("*.json") if folder is not None else []:
        try:
            port = orjson.loads(path.read_bytes()).get("daemon_config", {}).get("web_port")
        except (OSError, orjson.JSONDecodeError, AttributeError):
            continue
        if isinstance(port, int):
            used.add(port)
    port = FIRST_WEB_PORT
    while port in used:
        port += 1
    return port


def _document(
    name: str,
    exchange: str,
    url: str | None,
    symbol: str,
    kind: str,
    grid_type: GridType,
    low: Decimal,
    high: Decimal,
    num: int,
    qty: Decimal,
    folder: Path | None,
) -> dict[str, Any]:
    daemon: dict[str, Any] = {"web_port": _web_port(folder)}
    if exchange == "paper" and folder is not None and (folder / "paper_exchange.json").exists():
        daemon = {"depends_on": ["paper-exchange"], **daemon}
    exchange_config: dict[str, Any] = {}
    if url:
        exchange_config["base_url"] = url.rstrip("/")
    if exchange == "backpack":
        # References only: the values come from the environment when the bot starts.
        exchange_config["api_key"] = "${BACKPACK_KEY}"
        exchange_config["api_secret"] = "${BACKPACK_SECRET}"  # noqa: S105 - a reference
    doc: dict[str, Any] = {
        "metadata": {
            "instance_id": name,
            "name": f"{symbol} {grid_type} grid on {exchange}",
            "exchange": exchange,
            "symbol": symbol,
            "market_type": kind,
            "strategy": "perp_grid" if kind == "perp" else "grid",
        },
        "daemon_config": daemon,
    }
    if exchange_config:
        doc["exchange_config"] = exchange_config
    doc["strategy_config"] = {
        "grid_lower_price": str(low),
        "grid_upper_price": str(high),
        "grid_num": num,
        "grid_mode": "arithmetic",
        "grid_type": grid_type,
        "order_quantity": str(qty),
        "boundary_action": "pause",
    }
    return doc
