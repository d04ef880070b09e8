"""The bot's order store: SQLite (WAL) at `<home>/bots/<instance>.db`.

Three tables: the state document (one row, rewritten in the same transaction as the fills it
reflects), the fills applied (keyed by trade id, so applying twice is impossible), and every
clientId ever issued (written with the intent, before the order is sent; it is how the bot
recognises its own orders and how a test proves no order was sent twice).
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from gridkeeper.bot.state import GridState, TrackedOrder, state_from_dict
from gridkeeper.exchange.models import Fill

SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    doc BLOB NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fills (
    trade_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    client_id INTEGER,
    side TEXT NOT NULL,
    price TEXT NOT NULL,
    quantity TEXT NOT NULL,
    fee TEXT NOT NULL,
    fee_symbol TEXT NOT NULL,
    ts_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS issued (
    client_id INTEGER PRIMARY KEY,
    slot INTEGER NOT NULL,
    side TEXT NOT NULL,
    price TEXT,
    quantity TEXT NOT NULL,
    reduce_only INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    reissued INTEGER NOT NULL DEFAULT 0
);
"""


# The state fields that change with every price tick (last_price, mark_price: save() compares
# the document without them) are saved alone at most every PRICE_SAVE_S.
PRICE_SAVE_S = 10.0


def _decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not part of a state document")


def state_json(state: GridState) -> bytes:
    """The state document: the same bytes as `orjson.dumps(state_to_dict(state))`, encoded by
    orjson itself (dataclasses natively, int keys as strings, Decimals as plain decimal
    strings). Every poll checks whether anything changed, so this runs once a second at rest;
    the Python walk of `state_to_dict` cost ~3x as much (tests/unit/bot/test_store.py checks
    the bytes are the same)."""
    return orjson.dumps(state, default=_decimal, option=orjson.OPT_NON_STR_KEYS)


def store_path(home: Path, instance: str) -> Path:
    return home / "bots" / f"{instance}.db"


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # money: a saved intent must survive a crash
        # SQLite's page cache grows up to 2 MiB per connection by default as the fills table
        # grows: the bot's RSS crept for hours (issue 14). Its reads are primary-key lookups
        # (a fill seen, a clientId issued) and the one state row: a few pages each, so 512 KiB
        # holds every hot page of a store with years of fills.
        self._db.execute("PRAGMA cache_size=-512")
        self._db.executescript(SCHEMA)
        # What this process last committed, to skip commits that would change nothing.
        self._last_doc: bytes | None = None
        self._last_steady: bytes | None = None
        self._saved_at = 0.0
        self._issued = IssuedIds(self._db)

    def close(self) -> None:
        self._db.close()

    def load(self) -> GridState | None:
        row = self._db.execute("SELECT doc FROM state WHERE id = 1").fetchone()
        if row is None:
            return None
        return state_from_dict(orjson.loads(row[0]))

    @property
    def issued(self) -> IssuedIds:
        return self._issued

    def seen(self, trade_ids: Iterable[str]) -> set[str]:
        ids = list(trade_ids)
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT trade_id FROM fills WHERE trade_id IN ({marks})"  # noqa: S608
            found.update(row[0] for row in self._db.execute(query, chunk))
        return found

    def save(
        self,
        state: GridState,
        *,
        intents: Iterable[TrackedOrder] = (),
        fills: Iterable[Fill] = (),
    ) -> None:
        """Write the state with the intents and fills it includes, atomically."""
        now = int(time.time() * 1000)
        intents = list(intents)
        fills = list(fills)
        # A quiet cycle (only the price moved) commits at most every PRICE_SAVE_S: the price is
        # read again at start, and every change that matters (orders, fills, position, status,
        # range) is still written before anything it implies is sent. At rest that is every
        # poll, so the document without the price is encoded first and the whole one only when
        # it may be written.
        steady = state_json(dataclasses.replace(state, last_price=None, mark_price=None))
        quiet = not intents and not fills and steady == self._last_steady
        if quiet and time.monotonic() - self._saved_at < PRICE_SAVE_S:
            return
        doc = state_json(state)
        if quiet and doc == self._last_doc:
            return
        with self._tx():
            self._db.execute(
                "INSERT INTO state (id, doc, updated_ms) VALUES (1, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET doc = excluded.doc, "
                "updated_ms = excluded.updated_ms",
                (doc, now),
            )
            for order in intents:
                self._db.execute(
                    "INSERT INTO issued (client_id, slot, side, price, quantity, reduce_only, "
                    "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(client_id) DO UPDATE "
                    "SET reissued = reissued + 1, slot = excluded.slot, side = excluded.side, "
                    "price = excluded.price, quantity = excluded.quantity, "
                    "created_ms = excluded.created_ms",
                    (
                        order.client_id,
                        order.slot,
                        order.side,
                        None if order.price is None else format(order.price, "f"),
                        format(order.quantity, "f"),
                        int(order.reduce_only),
                        now,
                    ),
                )
            for fill in fills:
                self._db.execute(
                    "INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        fill.trade_id,
                        fill.order_id,
                        fill.client_id,
                        fill.side,
                        format(fill.price, "f"),
                        format(fill.quantity, "f"),
                        format(fill.fee, "f"),
                        fill.fee_symbol,
                        fill.timestamp_ms,
                    ),
                )
        self._last_doc, self._last_steady, self._saved_at = doc, steady, time.monotonic()

    def _tx(self) -> _Tx:
        return _Tx(self._db)

    def fill_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM fills").fetchone()[0])

    def issued_rows(self) -> list[dict[str, Any]]:
        cur = self._db.execute("SELECT * FROM issued ORDER BY created_ms")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]


class IssuedIds(AbstractSet[int]):
    """Every clientId this bot issued, read from the `issued` table (its primary key) on each
    question instead of held in a set: the set grew by one id per order for the bot's whole
    life (issue 14's memory slope), and the questions come only per fill and per open order at a
    reconcile, so an indexed lookup costs nothing that matters. Uncommitted intents of an open
    transaction are visible: the connection is the one that writes them."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __contains__(self, client_id: object) -> bool:
        # Another client's id may be anything the exchange accepts; SQLite's integers are 64-bit.
        if not isinstance(client_id, int) or isinstance(client_id, bool):
            return False
        if not -(2**63) <= client_id < 2**63:
            return False
        row = self._db.execute("SELECT 1 FROM issued WHERE client_id = ?", (client_id,)).fetchone()
        return row is not None

    def __iter__(self) -> Iterator[int]:
        return (int(row[0]) for row in self._db.execute("SELECT client_id FROM issued"))

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM issued").fetchone()[0])


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
