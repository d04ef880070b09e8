"""The keeper's state file (SQLite, WAL): what runs where, and every event that happened.

Written on every state change, so a keeper that dies and comes back knows which processes are
its own (pid + process start time, never a bare pid) and which instances were meant to run.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    desired TEXT NOT NULL,          -- 'running' or 'stopped': what the operator asked for
    pid INTEGER,
    create_time REAL,               -- psutil create_time of pid, the identity of the process
    started_at REAL,
    restarts INTEGER NOT NULL DEFAULT 0,
    last_exit_code INTEGER,
    last_exit TEXT,
    updated_at REAL NOT NULL,
    state TEXT,                     -- the last state, so fatal/exited survive a keeper restart
    identity TEXT,                  -- boot id + kernel start ticks: immune to clock steps
    spec TEXT,                      -- the resolved config the process was started with (JSON)
    history TEXT                    -- restart times in the window (JSON), for the limit
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    instance TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_instance ON events(instance, seq);
"""
# Columns added after the first release of the schema; added to older files on open.
LATER_COLUMNS = {"state": "TEXT", "identity": "TEXT", "spec": "TEXT", "history": "TEXT"}

MAX_EVENTS = 100_000


@dataclass(frozen=True)
class SavedInstance:
    name: str
    config: str
    desired: str
    pid: int | None
    create_time: float | None
    started_at: float | None
    restarts: int
    last_exit_code: int | None
    last_exit: str | None
    state: str | None
    identity: str | None
    spec: dict[str, Any] | None
    history: list[float]


def rfc3339(ts: float | None = None) -> str:
    moment = datetime.now(UTC) if ts is None else datetime.fromtimestamp(ts, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StateStore:
    """Thread-safe access to state.db (the keeper calls it from its event loop only, but the
    connection is shared by the few executor jobs that read events)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        # 0600: rows keep the ${VAR} values a start command resolved (API keys among them).
        # SQLite gives its -wal and -shm files the database file's mode.
        os.close(os.open(path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600))
        path.chmod(0o600)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(instances)")}
        for column, kind in LATER_COLUMNS.items():
            if column not in have:
                self._db.execute(f"ALTER TABLE instances ADD COLUMN {column} {kind}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def save(self, name: str, **fields: Any) -> None:
        """Insert or update an instance row with the given columns."""
        import time

        fields["updated_at"] = time.time()
        with self._lock:
            row = self._db.execute("SELECT 1 FROM instances WHERE name=?", (name,)).fetchone()
            if row is None:
                fields.setdefault("config", "")
                fields.setdefault("desired", "stopped")
                cols = ["name", *fields]
                marks = ",".join("?" for _ in cols)
                self._db.execute(
                    f"INSERT INTO instances ({','.join(cols)}) VALUES ({marks})",  # noqa: S608
                    (name, *fields.values()),
                )
            else:
                sets = ",".join(f"{k}=?" for k in fields)
                self._db.execute(
                    f"UPDATE instances SET {sets} WHERE name=?",  # noqa: S608
                    (*fields.values(), name),
                )

    def forget(self, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM instances WHERE name=?", (name,))

    def instances(self) -> list[SavedInstance]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, config, desired, pid, create_time, started_at, restarts, "
                "last_exit_code, last_exit, state, identity, spec, history "
                "FROM instances ORDER BY name"
            ).fetchall()
        return [
            SavedInstance(
                name=row[0],
                config=row[1],
                desired=row[2],
                pid=row[3],
                create_time=row[4],
                started_at=row[5],
                restarts=row[6],
                last_exit_code=row[7],
                last_exit=row[8],
                state=row[9],
                identity=row[10],
                spec=orjson.loads(row[11]) if row[11] else None,
                history=orjson.loads(row[12]) if row[12] else [],
            )
            for row in rows
        ]

    def add_event(
        self, instance: str, kind: str, message: str, data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        ts = rfc3339()
        payload = orjson.dumps(data or {}).decode()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO events (ts, instance, kind, message, data) VALUES (?,?,?,?,?)",
                (ts, instance, kind, message, payload),
            )
            seq = int(cur.lastrowid or 0)
            if seq % 1000 == 0:
                self._db.execute("DELETE FROM events WHERE seq <= ?", (seq - MAX_EVENTS,))
        return {
            "seq": seq,
            "ts": ts,
            "instance": instance,
            "kind": kind,
            "message": message,
            "data": data or {},
        }

    def events(
        self, since_seq: int | None = None, limit: int = 100, names: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Events after `since_seq` (oldest first), or the last `limit` events."""
        where: list[str] = []
        params: list[Any] = []
        if since_seq is not None:
            where.append("seq > ?")
            params.append(since_seq)
        if names:
            where.append(f"instance IN ({','.join('?' for _ in names)})")
            params.extend(names)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        order = "ASC" if since_seq is not None else "DESC"
        with self._lock:
            rows = self._db.execute(
                f"SELECT seq, ts, instance, kind, message, data FROM events {clause} "  # noqa: S608
                f"ORDER BY seq {order} LIMIT ?",
                (*params, limit),
            ).fetchall()
        if order == "DESC":
            rows.reverse()
        return [
            {
                "seq": r[0],
                "ts": r[1],
                "instance": r[2],
                "kind": r[3],
                "message": r[4],
                "data": orjson.loads(r[5]),
            }
            for r in rows
        ]
