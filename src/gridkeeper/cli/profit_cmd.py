"""`gridkeeper profit`: each grid's profit from its persisted store, so it works while a bot is
down.

The store is read through gridkeeper.gridstore (which documents the file contract), the same
reader as the monitor's Telegram `/profit`. The totals (realized, unrealized, total, fees,
funding) are the bot's own, as of its last save; `--since` narrows the fills, volume, fees paid
and round trips, and the daily table.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import orjson

from gridkeeper.cli.common import home_option
from gridkeeper.errors import GridkeeperError, UsageError
from gridkeeper.gridstore import ZERO, StoreError, connect, read_totals, store_paths
from gridkeeper.paths import resolve_home

SINCE = {"1d": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000, "all": None}


@dataclass
class Day:
    fills: int = 0
    bought: Decimal = ZERO
    sold: Decimal = ZERO
    volume: Decimal = ZERO  # quote
    fees: Decimal = ZERO  # quote (a base fee valued at its fill's price)


@dataclass
class GridProfit:
    name: str
    realized: Decimal
    unrealized: Decimal
    total: Decimal
    fees_total: Decimal
    funding: Decimal
    position: Decimal
    order_quantity: Decimal | None
    days: dict[str, Day] = field(default_factory=dict)

    @property
    def fills(self) -> int:
        return sum(d.fills for d in self.days.values())

    @property
    def fees(self) -> Decimal:
        return sum((d.fees for d in self.days.values()), ZERO)

    @property
    def volume(self) -> Decimal:
        return sum((d.volume for d in self.days.values()), ZERO)

    @property
    def round_trips(self) -> int:
        """Whole order sizes both bought and sold in the window: a buy and the sell that
        closes it (or the other way round) count once."""
        if not self.order_quantity:
            return 0
        bought = sum((d.bought for d in self.days.values()), ZERO)
        sold = sum((d.sold for d in self.days.values()), ZERO)
        return int(min(bought, sold) // self.order_quantity)


def read_store(path: Path, name: str, since_ms: int | None) -> GridProfit:
    """One grid's profit from its store: the totals as the bot saved them, the fills since
    `since_ms` by day."""
    try:
        totals = read_totals(path)
        query = "SELECT side, price, quantity, fee, fee_symbol, ts_ms FROM fills"
        args: tuple[int, ...] = ()
        if since_ms is not None:
            query += " WHERE ts_ms >= ?"
            args = (since_ms,)
        db = connect(path)
        try:
            fills = db.execute(query + " ORDER BY ts_ms", args).fetchall()
        finally:
            db.close()
    except StoreError as exc:
        raise UsageError(f"{name}: {exc}") from None
    except sqlite3.Error as exc:
        raise GridkeeperError(f"{name}: the store {path}: {exc}") from None
    result = GridProfit(
        name=name,
        realized=totals.realized,
        unrealized=totals.unrealized,
        total=totals.total,
        fees_total=totals.fees,
        funding=totals.funding,
        position=totals.position,
        order_quantity=totals.order_quantity,
    )
    for side, fprice, fqty, fee, fee_symbol, ts_ms in fills:
        day_key = datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d")
        day = result.days.setdefault(day_key, Day())
        p, q, f = Decimal(fprice), Decimal(fqty), Decimal(fee)
        day.fills += 1
        day.volume += p * q
        if side == "Bid":
            day.bought += q
        else:
            day.sold += q
        # A fee in the base asset is worth its quantity at the fill's price.
        day.fees += f if _fee_in_quote(fee_symbol) else f * p
    return result


def _fee_in_quote(fee_symbol: str) -> bool:
    """The state does not name the quote asset; USDC/USDT/USD are the quotes Backpack lists."""
    return fee_symbol.upper() in {"USDC", "USDT", "USD"}


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def _report(grids: list[GridProfit], since: str) -> dict[str, Any]:
    def one(g: GridProfit) -> dict[str, Any]:
        return {
            "name": g.name,
            "realized": str(g.realized),
            "unrealized": str(g.unrealized),
            "total_pnl": str(g.total),
            "fees_total": str(g.fees_total),
            "funding": str(g.funding),
            "position": str(g.position),
            "fills": g.fills,
            "fees": str(g.fees),
            "volume": str(g.volume),
            "round_trips": g.round_trips,
            "daily": {
                k: {
                    "fills": d.fills,
                    "bought": str(d.bought),
                    "sold": str(d.sold),
                    "volume": str(d.volume),
                    "fees": str(d.fees),
                }
                for k, d in sorted(g.days.items())
            },
        }

    total = {
        key: str(sum((getattr(g, attr) for g in grids), ZERO))
        for key, attr in [
            ("realized", "realized"),
            ("unrealized", "unrealized"),
            ("total_pnl", "total"),
            ("fees_total", "fees_total"),
            ("funding", "funding"),
            ("fees", "fees"),
            ("volume", "volume"),
        ]
    }
    total["fills"] = sum(g.fills for g in grids)  # type: ignore[assignment]
    total["round_trips"] = sum(g.round_trips for g in grids)  # type: ignore[assignment]
    return {"since": since, "grids": [one(g) for g in grids], "total": total}


def _table(grids: list[GridProfit]) -> str:
    from gridkeeper.cli.table import render

    header = ["GRID", "REALIZED", "UNREALIZED", "TOTAL", "FEES", "FUNDING", "FILLS", "ROUND TRIPS"]
    rows = [
        [
            g.name,
            _money(g.realized),
            _money(g.unrealized),
            _money(g.total),
            _money(g.fees_total),
            _money(g.funding),
            str(g.fills),
            str(g.round_trips),
        ]
        for g in grids
    ]
    rows.append(
        [
            "TOTAL",
            _money(sum((g.realized for g in grids), ZERO)),
            _money(sum((g.unrealized for g in grids), ZERO)),
            _money(sum((g.total for g in grids), ZERO)),
            _money(sum((g.fees_total for g in grids), ZERO)),
            _money(sum((g.funding for g in grids), ZERO)),
            str(sum(g.fills for g in grids)),
            str(sum(g.round_trips for g in grids)),
        ]
    )
    days: dict[str, Day] = {}
    for g in grids:
        for key, d in g.days.items():
            agg = days.setdefault(key, Day())
            agg.fills += d.fills
            agg.volume += d.volume
            agg.fees += d.fees
    daily = [[k, str(d.fills), _money(d.volume), _money(d.fees)] for k, d in sorted(days.items())]
    text = render(header, rows)
    if daily:
        text += "\n\n" + render(["DAY (UTC)", "FILLS", "VOLUME", "FEES PAID"], daily)
    return text


@click.command()
@click.argument("names", nargs=-1)
@click.option(
    "--since",
    type=click.Choice(list(SINCE)),
    default="all",
    show_default=True,
    help="Window for fills, volume, fees paid, round trips and the daily table.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of tables.")
@home_option
def profit(names: tuple[str, ...], since: str, as_json: bool, home: Path | None) -> None:
    """Profit per grid (NAMES: these grids, default all) and in total, from the bots' stores
    (works while a bot is down).

    \b
    Examples:
      gridkeeper profit
      gridkeeper profit sol-a sol-b --since 7d --json
    """
    try:
        paths = store_paths(resolve_home(home), names)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    window = SINCE[since]
    since_ms = None if window is None else int(time.time() * 1000) - window
    grids = [read_store(path, path.stem, since_ms) for path in paths]
    if as_json:
        click.echo(orjson.dumps(_report(grids, since), option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(_table(grids))
