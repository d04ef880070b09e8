"""Reading a grid bot's store without the bot: the totals `gridkeeper profit` and the
monitor's Telegram `/profit` show, from the same sums.

The store (`<home>/bots/<name>.db`, written by bot/store.py) is opened read-only (SQLite URI
`mode=ro`, so a running bot keeps writing) and read without importing the bot: architecture.md
lets the CLI and the monitor read the files on disk, not the bot's internals. What the readers
rely on, and nothing more:
- table `state`, row id 1, column `doc`: a JSON object with decimal strings `cash`, `position`,
  `value0`, `realized_profit`, `fees`, `funding`, `last_price`, `mark_price` (may be null),
  `quantity` (may be null) and the integer `fills_applied`;
- table `fills`: `side` (`Bid`/`Ask`), `price`, `quantity`, `fee` (decimal strings), `fee_symbol`,
  `ts_ms` (milliseconds since the epoch) (read by `gridkeeper profit` only).

This module imports nothing of ours: it sits beside `gridreport` and `paths`, below `cli` and
`monitor`, and needs no pydantic (the monitor process must not load it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson

STORE_DIR = "bots"
ZERO = Decimal(0)


class StoreError(Exception):
    """A store is missing or cannot be read; the message says which and why."""


@dataclass(frozen=True)
class Totals:
    """One grid's figures as of the bot's last save (Decimals, quote currency)."""

    realized: Decimal
    unrealized: Decimal
    total: Decimal  # the bot's total_pnl
    fees: Decimal
    funding: Decimal
    position: Decimal
    fills: int  # fills the bot has applied, over its whole life
    order_quantity: Decimal | None


def store_paths(home: Path, names: Sequence[str] = ()) -> list[Path]:
    """The stores of `names`, or every store in the home (by name) when none are given."""
    folder = home / STORE_DIR
    if not names:
        paths = sorted(folder.glob("*.db"))
        if not paths:
            raise StoreError(f"no grid stores in {folder}: no grid bot has run in this home")
        return paths
    for name in names:
        # An instance name, never a path: `../x` must not read a file outside the home's stores.
        if not name or name != Path(name).name or name.startswith("."):
            raise StoreError(f"{name!r} is not a grid name")
    paths = [folder / f"{name}.db" for name in names]
    for name, path in zip(names, paths, strict=True):
        if not path.is_file():
            raise StoreError(f"{name}: no store at {path} (has this grid ever run here?)")
    return paths


def connect(path: Path) -> sqlite3.Connection:
    """The store opened read-only: a running bot keeps writing it."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)


def read_totals(path: Path) -> Totals:
    """The totals of the store at `path`; StoreError when it holds none or cannot be read."""
    try:
        db = connect(path)
        try:
            row = db.execute("SELECT doc FROM state WHERE id = 1").fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise StoreError(f"the store {path}: {exc}") from None
    if row is None:
        raise StoreError(f"the store {path} holds no grid state yet")
    try:
        return totals(orjson.loads(row[0]))
    except (orjson.JSONDecodeError, InvalidOperation, TypeError, ValueError, AttributeError):
        raise StoreError(f"the store {path} holds an unreadable grid state") from None


def totals(doc: dict[str, Any]) -> Totals:
    """The figures of a state `doc`: the bot's own sums, so both readers agree with it."""
    position = _d(doc.get("position"))
    price = doc.get("mark_price") or doc.get("last_price")
    # The bot's total_pnl: cash plus the position at its valuation price, minus the start value.
    total = _d(doc.get("cash")) - _d(doc.get("value0"))
    if price is not None:
        total += position * _d(price)
    realized = _d(doc.get("realized_profit"))
    quantity = doc.get("quantity")
    return Totals(
        realized=realized,
        unrealized=total - realized,
        total=total,
        fees=_d(doc.get("fees")),
        funding=_d(doc.get("funding")),
        position=position,
        fills=int(doc.get("fills_applied") or 0),
        order_quantity=None if quantity is None else _d(quantity),
    )


def _d(value: Any) -> Decimal:
    """A decimal field; a missing one is 0. A value that is not a finite number raises."""
    if value is None:
        return ZERO
    number = Decimal(str(value))
    if not number.is_finite():
        raise InvalidOperation(f"{value!r} is not a finite number")
    return number
