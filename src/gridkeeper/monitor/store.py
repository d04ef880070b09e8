"""`<home>/monitor.db`: samples, one-minute rollups, alerts, outbox, silences, custom alerts.

SQLite in WAL mode so the CLI reads (and raises custom alerts) while the monitor writes. One
connection per `Store`, guarded by a lock, shared by the monitor's threads. Size is bounded by
retention (raw samples, rollups, delivered notifications, alert history) and by a byte cap that
drops the oldest raw samples first.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from gridkeeper.monitor.store_alerts import AlertRows
from gridkeeper.monitor.store_queue import QueueRows
from gridkeeper.monitor.store_series import DAY, SeriesRows

__all__ = ["DAY", "DB_NAME", "Store"]

DB_NAME = "monitor.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    ts REAL NOT NULL, name TEXT NOT NULL, labels TEXT NOT NULL, value REAL NOT NULL);
CREATE INDEX IF NOT EXISTS samples_name_ts ON samples(name, ts);
CREATE INDEX IF NOT EXISTS samples_ts ON samples(ts);
CREATE TABLE IF NOT EXISTS rollups (
    name TEXT NOT NULL, labels TEXT NOT NULL, minute INTEGER NOT NULL,
    count INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
    last REAL NOT NULL, PRIMARY KEY (name, labels, minute));
CREATE INDEX IF NOT EXISTS rollups_minute ON rollups(minute);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT NOT NULL, rule TEXT NOT NULL,
    subject TEXT NOT NULL, level TEXT NOT NULL, summary TEXT NOT NULL, labels TEXT NOT NULL,
    state TEXT NOT NULL, active_since REAL NOT NULL, for_seconds REAL NOT NULL,
    one_shot INTEGER NOT NULL, resolve_after REAL, fired_at REAL, clear_since REAL,
    resolved_at REAL, last_notified_at REAL, notified INTEGER NOT NULL, acked_at REAL);
CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state);
CREATE INDEX IF NOT EXISTS alerts_fired ON alerts(fired_at);
CREATE TABLE IF NOT EXISTS alert_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id INTEGER NOT NULL, ts REAL NOT NULL,
    kind TEXT NOT NULL, notified INTEGER NOT NULL, summary TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events(alert_id);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, alert_id INTEGER,
    kind TEXT NOT NULL, payload BLOB NOT NULL, created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL,
    last_error TEXT NOT NULL DEFAULT '', delivered_at REAL, dead INTEGER NOT NULL DEFAULT 0,
    delivery_id TEXT);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(channel, delivered_at, dead, id);
CREATE TABLE IF NOT EXISTS silences (
    id INTEGER PRIMARY KEY AUTOINCREMENT, pattern TEXT NOT NULL, created_at REAL NOT NULL,
    expires_at REAL NOT NULL, comment TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS custom_alerts (
    name TEXT PRIMARY KEY, level TEXT, message TEXT NOT NULL, raised_at REAL NOT NULL,
    active INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store(SeriesRows, AlertRows, QueueRows):
    """The monitor's database. Safe to share between threads of one process.

    The rows live in mixins, one per kind (store_series, store_alerts, store_queue); this class
    owns the connection, the schema, meta and retention, which span every table.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._rolled: int | None = None  # rollups_through, read once (only we write it)
        self._db = sqlite3.connect(
            str(path), timeout=10.0, check_same_thread=False, isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout=10000")
        # auto_vacuum only takes effect before the first table exists; later opens ignore it.
        self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._tx():
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    self._db.execute(stmt)
            # monitor.db from before delivery ids were UUIDs: add the column (old rows keep
            # their row id as delivery id).
            cols = {r[1] for r in self._db.execute("PRAGMA table_info(outbox)")}
            if "delivery_id" not in cols:
                self._db.execute("ALTER TABLE outbox ADD COLUMN delivery_id TEXT")
        path.chmod(0o600)

    @classmethod
    def open(cls, home: Path) -> Store:
        return cls(home / DB_NAME)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def data_version(self) -> int:
        """Changes when another connection (the CLI) commits: a cheap "anything new?" check."""
        return int(self._query("PRAGMA data_version")[0][0])

    # -- meta --------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key=?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    # -- retention ---------------------------------------------------------------------------
    def size_bytes(self) -> int:
        with self._lock:
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
            size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def prune(
        self,
        now: float,
        *,
        raw_days: float,
        rollup_days: float,
        max_bytes: int,
        history_days: float = 365.0,
    ) -> dict[str, int]:
        """Apply every retention rule; returns rows removed per table."""
        removed: dict[str, int] = {}
        with self._tx() as db:
            removed["samples"] = db.execute(
                "DELETE FROM samples WHERE ts < ?", (now - raw_days * DAY,)
            ).rowcount
            removed["rollups"] = db.execute(
                "DELETE FROM rollups WHERE minute < ?", (int((now - rollup_days * DAY) // 60),)
            ).rowcount
            removed["outbox"] = db.execute(
                "DELETE FROM outbox WHERE (delivered_at IS NOT NULL OR dead=1) AND created_at < ?",
                (now - 30 * DAY,),
            ).rowcount
            old = now - history_days * DAY
            removed["alerts"] = db.execute(
                "DELETE FROM alerts WHERE state='resolved' AND resolved_at < ?", (old,)
            ).rowcount
            db.execute("DELETE FROM alert_events WHERE alert_id NOT IN (SELECT id FROM alerts)")
            db.execute("DELETE FROM silences WHERE expires_at < ?", (now - DAY,))
            removed["custom_alerts"] = db.execute(
                "DELETE FROM custom_alerts WHERE active=0 AND raised_at < ?", (old,)
            ).rowcount
        # Over the cap: drop the oldest tenth of raw samples (never the last day's: that is
        # what `gridkeeper metrics` and an investigation need), then of the rollups, until
        # under it or nothing is left to drop.
        removed.setdefault("rollups", 0)
        while self.size_bytes() > max_bytes:
            with self._tx() as db:
                n = db.execute(
                    "DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples WHERE ts < ? "
                    "ORDER BY ts LIMIT max(1, (SELECT count(*) FROM samples WHERE ts < ?) / 10))",
                    (now - DAY, now - DAY),
                ).rowcount
                removed["samples"] += n
                if n == 0:
                    n = db.execute(
                        "DELETE FROM rollups WHERE rowid IN (SELECT rowid FROM rollups "
                        "ORDER BY minute LIMIT max(1, (SELECT count(*) FROM rollups) / 10))"
                    ).rowcount
                    removed["rollups"] += n
            with self._lock:
                self._db.execute("PRAGMA incremental_vacuum")
            if n == 0:
                break
        with self._lock:
            self._db.execute("PRAGMA incremental_vacuum")
        return removed
