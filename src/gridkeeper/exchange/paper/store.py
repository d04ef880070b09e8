"""SQLite (WAL) persistence of the paper exchange: every change is committed before it is answered.

The engine keeps open orders, balances, positions and prices in memory; closed orders and fills
are read back from here for history queries. A kill -9 loses nothing already acknowledged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from gridkeeper.exchange.paper import perp_ledger
from gridkeeper.exchange.paper.book import BalanceState, BookFill, BookOrder, PositionState
from gridkeeper.exchange.paper.engine import Changes, Engine

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS balances (
    account TEXT NOT NULL, asset TEXT NOT NULL, available TEXT NOT NULL, locked TEXT NOT NULL,
    PRIMARY KEY (account, asset));
CREATE TABLE IF NOT EXISTS positions (
    account TEXT NOT NULL, symbol TEXT NOT NULL, net_quantity TEXT NOT NULL,
    entry_price TEXT NOT NULL, realized_pnl TEXT NOT NULL, PRIMARY KEY (account, symbol));
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY, account TEXT NOT NULL, symbol TEXT NOT NULL, is_open INTEGER NOT NULL,
    data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS orders_open ON orders (is_open) WHERE is_open = 1;
CREATE INDEX IF NOT EXISTS orders_account ON orders (account, symbol, id);
CREATE TABLE IF NOT EXISTS fills (
    trade_id INTEGER PRIMARY KEY, account TEXT NOT NULL, symbol TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS fills_account ON fills (account, timestamp_ms);
CREATE TABLE IF NOT EXISTS prices (
    symbol TEXT PRIMARY KEY, price TEXT NOT NULL, step INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS pending_cancels (order_id TEXT PRIMARY KEY, due_ms INTEGER NOT NULL);
"""

_DECIMAL_FIELDS = ("price", "quantity", "executed_quantity", "executed_quote_quantity", "locked")


def _order_blob(order: BookOrder) -> bytes:
    data = {name: getattr(order, name) for name in BookOrder.__slots__}
    for name in _DECIMAL_FIELDS:
        value = data[name]
        data[name] = None if value is None else str(value)
    return orjson.dumps(data)


def _order_from_blob(blob: bytes) -> BookOrder:
    data: dict[str, Any] = orjson.loads(blob)
    for name in _DECIMAL_FIELDS:
        if data[name] is not None:
            data[name] = Decimal(data[name])
    return BookOrder(**data)


def _fill_blob(fill: BookFill) -> bytes:
    data = {name: getattr(fill, name) for name in BookFill.__slots__}
    for name in ("price", "quantity", "fee"):
        data[name] = str(data[name])
    return orjson.dumps(data)


def fill_from_blob(blob: bytes) -> BookFill:
    data: dict[str, Any] = orjson.loads(blob)
    for name in ("price", "quantity", "fee"):
        data[name] = Decimal(data[name])
    return BookFill(**data)


class Store:
    def __init__(
        self,
        path: Path,
        *,
        history_delay_ms: int = 0,
        clock: Callable[[], int] | None = None,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed transaction survives a process kill (not power loss).
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.db.executescript(perp_ledger.SCHEMA)  # written here, in `apply`'s transaction
        for suffix in ("", "-wal", "-shm"):
            sidecar = path.with_name(path.name + suffix)
            if sidecar.exists():
                sidecar.chmod(0o600)  # balances and orders are nobody else's business
        self._migrate()
        self.steps: dict[str, int] = {}
        # History lag: rows show in the history queries only once their last change is this old.
        self.history_delay_ms = history_delay_ms
        self.clock = clock
        self.closed = False

    def _migrate(self) -> None:
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(orders)")}
        if "updated_ms" not in columns:  # a database from before the history lag
            self.db.execute("ALTER TABLE orders ADD COLUMN updated_ms INTEGER NOT NULL DEFAULT 0")

    def close(self) -> None:
        self.closed = True
        self.db.close()

    def _visible_until(self) -> int | None:
        """Newest change a history query may show, or None without a lag."""
        if self.history_delay_ms <= 0 or self.clock is None:
            return None
        return self.clock() - self.history_delay_ms

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def load_into(self, engine: Engine) -> None:
        """Rebuild the engine's memory from disk after a start."""
        for account, asset, available, locked in self.db.execute("SELECT * FROM balances"):
            engine.balances[(account, asset)] = BalanceState(Decimal(available), Decimal(locked))
        for account, symbol, net, entry, realized in self.db.execute("SELECT * FROM positions"):
            engine.positions[(account, symbol)] = PositionState(
                Decimal(net), Decimal(entry), Decimal(realized)
            )
        for symbol, price, step in self.db.execute("SELECT symbol, price, step FROM prices"):
            if symbol in engine.markets:
                engine.prices[symbol] = Decimal(price)
                self.steps[symbol] = step
        for (blob,) in self.db.execute("SELECT data FROM orders WHERE is_open = 1 ORDER BY id"):
            engine.restore_order(_order_from_blob(blob))
        for order_id, due_ms in self.db.execute("SELECT order_id, due_ms FROM pending_cancels"):
            if order_id in engine.orders:  # accepted before a restart: still to be done
                engine.pending_cancels[order_id] = int(due_ms)
        meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        engine.next_order_id = int(meta.get("next_order_id", engine.next_order_id))
        engine.next_trade_id = int(meta.get("next_trade_id", engine.next_trade_id))

    def apply(self, engine: Engine, changes: Changes) -> None:
        """Persist one batch of changes in one transaction."""
        if not changes:
            return
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO balances VALUES (?, ?, ?, ?)",
                [
                    (acct, asset, str(bal.available), str(bal.locked))
                    for (acct, asset) in changes.balances
                    for bal in (engine.balances[(acct, asset)],)
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO positions VALUES (?, ?, ?, ?, ?)",
                [
                    (acct, sym, str(pos.net_quantity), str(pos.entry_price), str(pos.realized_pnl))
                    for (acct, sym) in changes.positions
                    for pos in (engine.positions[(acct, sym)],)
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO orders (id, account, symbol, is_open, data, updated_ms) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        int(o.id),
                        o.account,
                        o.symbol,
                        int(o.is_open),
                        _order_blob(o),
                        o.updated_at_ms,
                    )
                    for o in changes.orders.values()
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO fills VALUES (?, ?, ?, ?, ?)",
                [
                    (f.trade_id, f.account, f.symbol, f.timestamp_ms, _fill_blob(f))
                    for f in changes.fills
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO prices VALUES (?, ?, ?)",
                [(s, str(engine.prices[s]), self.steps.get(s, 0)) for s in changes.prices],
            )
            perp_ledger.write(db, changes.funding_rates, changes.funding_payments)
            pending = changes.pending_cancels.items()
            db.executemany(
                "INSERT OR REPLACE INTO pending_cancels VALUES (?, ?)",
                [(oid, due) for oid, due in pending if due is not None],
            )
            db.executemany(
                "DELETE FROM pending_cancels WHERE order_id = ?",
                [(oid,) for oid, due in pending if due is None],
            )
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [
                    ("next_order_id", str(engine.next_order_id)),
                    ("next_trade_id", str(engine.next_trade_id)),
                ],
            )

    def order_history(
        self, account: str, symbol: str | None, order_id: str | None, limit: int, offset: int
    ) -> list[BookOrder]:
        sql = "SELECT data FROM orders WHERE account = ?"
        args: list[object] = [account]
        if symbol:
            sql += " AND symbol = ?"
            args.append(symbol)
        if order_id:
            sql += " AND id = ?"
            args.append(int(order_id) if order_id.isdigit() else -1)
        until = self._visible_until()
        if until is not None:
            sql += " AND updated_ms <= ?"
            args.append(until)
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        args += [limit, offset]
        return [_order_from_blob(blob) for (blob,) in self.db.execute(sql, args)]

    def fills(
        self,
        account: str,
        *,
        symbol: str | None,
        order_id: str | None,
        from_ms: int | None,
        to_ms: int | None,
        limit: int,
        offset: int,
        ascending: bool,
    ) -> list[BookFill]:
        sql = "SELECT data FROM fills WHERE account = ?"
        args: list[object] = [account]
        if symbol:
            sql += " AND symbol = ?"
            args.append(symbol)
        if from_ms is not None:
            sql += " AND timestamp_ms >= ?"
            args.append(from_ms)
        if to_ms is not None:
            sql += " AND timestamp_ms <= ?"
            args.append(to_ms)
        until = self._visible_until()
        if until is not None:
            sql += " AND timestamp_ms <= ?"
            args.append(until)
        sql += f" ORDER BY trade_id {'ASC' if ascending else 'DESC'}"
        found = [fill_from_blob(blob) for (blob,) in self.db.execute(sql, args)]
        if order_id:
            found = [f for f in found if f.order_id == order_id]
        return found[offset : offset + limit]
