"""The SQLite connection the monitor's store is built on: one connection, one lock, WAL."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Connection:
    """One SQLite connection shared by the threads of a process, behind a lock."""

    path: Path
    _db: sqlite3.Connection
    _lock: threading.RLock

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes into one transaction (all or none of them land)."""
        with self._tx():
            yield

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db.in_transaction:
                # Nested in `transaction()`: the outer one commits or rolls back everything.
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                # SQLite rolls back by itself on some errors (SQLITE_FULL): a second ROLLBACK
                # would fail and hide the real error.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()
