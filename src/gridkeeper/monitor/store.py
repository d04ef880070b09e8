"""`<home>/monitor.db`: samples, one-minute rollups, alerts, outbox, silences, custom alerts.

SQLite in WAL mode so the CLI reads (and raises custom alerts) while the monitor writes. One
connection per `Store`, guarded by a lock, shared by the monitor's threads. Size is bounded by
retention (raw samples, rollups, delivered notifications, alert history) and by a byte cap that
drops the oldest raw samples first.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from gridkeeper.monitor.rules import Alert
from gridkeeper.monitor.samples import Sample
from gridkeeper.monitor.store_queue import QueueRows

DB_NAME = "monitor.db"
DAY = 86400.0

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


@functools.lru_cache(maxsize=4096)
def _labels_json(labels: tuple[tuple[str, str], ...]) -> str:
    # Cached: a cycle writes the same few hundred label sets every time.
    return orjson.dumps(dict(labels), option=orjson.OPT_SORT_KEYS).decode()


_UPSERT_ROLLUP = (
    "INSERT INTO rollups(name, labels, minute, count, sum, min, max, last) "
    "VALUES(?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT(name, labels, minute) DO UPDATE SET "
    "count=count+1, sum=sum+excluded.sum, min=min(min, excluded.min), "
    "max=max(max, excluded.max), last=excluded.last"
)
# One-minute rollups of the raw samples with ts in [:lo, :hi): count/sum/min/max per series and
# minute, and `last`, the value of the series' newest row in the minute (the highest rowid:
# samples are appended as they are taken; one lookup by rowid per series).
_ROLLUP_SELECT = (
    "SELECT name, labels, minute, count, sum, min, max, "
    "(SELECT value FROM samples WHERE rowid = g.last_row) AS last FROM "
    "(SELECT name, labels, CAST(ts / 60 AS INTEGER) AS minute, count(*) AS count, "
    "sum(value) AS sum, min(value) AS min, max(value) AS max, max(rowid) AS last_row "
    "FROM samples WHERE ts >= :lo AND ts < :hi GROUP BY name, labels, minute) AS g"
)
ROLLED_KEY = "rollups_through"  # meta: the last minute whose rollups are written


class Store(QueueRows):
    """The monitor's database. Safe to share between threads of one process."""

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

    # -- samples -----------------------------------------------------------------------------
    def add_samples(self, samples: Iterable[Sample], ts: float) -> int:
        """Record raw samples; fold the minutes that ended into one-minute rollups.

        A minute is rolled up once, by SQLite from its raw samples, when the first sample of a
        later minute arrives (`rollups_through` in meta says how far): a cycle costs one
        insert per sample, not also an upsert per sample (benchmarks/monitor.py). `rollups()`
        shows the minutes not rolled up yet from the raw samples. A sample older than the
        last rolled-up minute (a clock stepped back) is folded into its minute at once.
        """
        rows = [
            (s.ts or ts, s.name, _labels_json(s.labels), float(s.value))
            for s in samples
            if s.value == s.value  # NaN has no place in history
        ]
        if not rows:
            return 0
        newest = int(max(t for t, _, _, _ in rows) // 60)
        with self._lock, self._tx() as db:
            db.executemany("INSERT INTO samples(ts, name, labels, value) VALUES(?,?,?,?)", rows)
            rolled = self._rolled_through(db, newest)
            late = [
                (n, lab, int(t // 60), v, v, v, v) for t, n, lab, v in rows if t < (rolled + 1) * 60
            ]
            if late:
                db.executemany(_UPSERT_ROLLUP, late)
            if newest - 1 > rolled:
                lo, hi = (rolled + 1) * 60.0, newest * 60.0
                db.execute(
                    "INSERT INTO rollups(name, labels, minute, count, sum, min, max, last) "
                    + _ROLLUP_SELECT
                    + " WHERE true ON CONFLICT(name, labels, minute) DO UPDATE SET "
                    "count=count+excluded.count, sum=sum+excluded.sum, "
                    "min=min(min, excluded.min), max=max(max, excluded.max), last=excluded.last",
                    {"lo": lo, "hi": hi},
                )
                self._set_rolled(db, newest - 1)
        return len(rows)

    def _rolled_through(self, db: sqlite3.Connection, newest: int) -> int:
        """The last minute rolled up. A fresh database starts before the first sample's
        minute; one written by a version that folded every sample at once (rollups present, no
        marker) starts at the current minute, so no sample is counted twice."""
        if self._rolled is None:
            row = db.execute("SELECT value FROM meta WHERE key=?", (ROLLED_KEY,)).fetchone()
            if row is not None:
                self._rolled = int(row[0])
            else:
                old = db.execute("SELECT 1 FROM rollups LIMIT 1").fetchone() is not None
                self._set_rolled(db, newest if old else newest - 1)
        assert self._rolled is not None
        return self._rolled

    def _set_rolled(self, db: sqlite3.Connection, minute: int) -> None:
        db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (ROLLED_KEY, str(minute)),
        )
        self._rolled = minute

    def samples(
        self, name: str | None, since: float, until: float | None = None
    ) -> list[dict[str, Any]]:
        sql = "SELECT ts, name, labels, value FROM samples WHERE ts >= ? AND ts <= ?"
        args: list[Any] = [since, until if until is not None else float("inf")]
        if name:
            sql += " AND name = ?"
            args.append(name)
        rows = self._query(sql + " ORDER BY ts, name, labels", args)
        return [
            {"ts": r["ts"], "name": r["name"], "labels": orjson.loads(r["labels"]), "value": r[3]}
            for r in rows
        ]

    def rollups(
        self, name: str | None, since: float, until: float | None = None
    ) -> list[dict[str, Any]]:
        """One-minute rollups; minutes not rolled up yet (the current one) are computed from
        the raw samples."""
        hi = int(until // 60) if until is not None else 2**62
        lo = int(since // 60)
        marker = self._query("SELECT value FROM meta WHERE key=?", (ROLLED_KEY,))
        rolled = int(marker[0][0]) if marker else 2**62  # no marker: nothing to compute live
        # Constant SQL text; every value is a bound parameter.
        sql = (
            "SELECT minute, name, labels, count, sum, min, max, last FROM ("  # noqa: S608
            "SELECT name, labels, minute, count, sum, min, max, last FROM rollups "
            "WHERE minute >= :first AND minute <= :last UNION ALL "
            "SELECT name, labels, minute, count, sum, min, max, last FROM (" + _ROLLUP_SELECT + ")"
            ") WHERE minute >= :first AND minute <= :last"
        )
        args: dict[str, Any] = {
            "first": lo,
            "last": hi,
            "lo": max(rolled + 1, lo) * 60.0,
            "hi": float("inf"),
        }
        if name:
            sql += " AND name = :name"
            args["name"] = name
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY minute, name, labels", args).fetchall()
        return [
            {
                "ts": r["minute"] * 60.0,
                "name": r["name"],
                "labels": orjson.loads(r["labels"]),
                "count": r["count"],
                "avg": r["sum"] / r["count"],
                "min": r["min"],
                "max": r["max"],
                "last": r["last"],
            }
            for r in rows
        ]

    def latest(self, name: str | None = None) -> list[dict[str, Any]]:
        """The newest value of every series (or of one metric's series)."""
        sql = (
            "SELECT name, labels, value, max(ts) AS ts FROM samples "
            "WHERE ts >= (SELECT max(ts) FROM samples) - ?"
        )
        args: list[Any] = [DAY]
        if name:
            sql += " AND name = ?"
            args.append(name)
        rows = self._query(sql + " GROUP BY name, labels ORDER BY name, labels", args)
        return [
            {"ts": r["ts"], "name": r["name"], "labels": orjson.loads(r["labels"]), "value": r[2]}
            for r in rows
        ]

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

    # -- alerts ------------------------------------------------------------------------------
    def save_alert(self, alert: Alert) -> int:
        """Insert (first firing) or update an alert row; returns and sets `alert.id`."""
        cols = {
            "fingerprint": alert.fingerprint,
            "rule": alert.rule,
            "subject": alert.subject,
            "level": alert.level,
            "summary": alert.summary,
            "labels": orjson.dumps(alert.labels).decode(),
            "state": alert.state,
            "active_since": alert.active_since,
            "for_seconds": alert.for_seconds,
            "one_shot": int(alert.one_shot),
            "resolve_after": alert.resolve_after,
            "fired_at": alert.fired_at,
            "clear_since": alert.clear_since,
            "resolved_at": alert.resolved_at,
            "last_notified_at": alert.last_notified_at,
            "notified": int(alert.notified),
        }
        with self._tx() as db:
            if alert.id is None:
                names = ", ".join(cols)
                marks = ", ".join("?" for _ in cols)
                sql = f"INSERT INTO alerts({names}) VALUES({marks})"
                cur = db.execute(sql, list(cols.values()))
                alert.id = int(cur.lastrowid or 0)
            else:
                sets = ", ".join(f"{k}=?" for k in cols)
                sql = f"UPDATE alerts SET {sets} WHERE id=?"  # noqa: S608 (fixed names)
                db.execute(sql, [*cols.values(), alert.id])
        return alert.id

    def add_alert_event(
        self, alert_id: int, ts: float, kind: str, notified: bool, summary: str
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO alert_events(alert_id, ts, kind, notified, summary) VALUES(?,?,?,?,?)",
                (alert_id, ts, kind, int(notified), summary),
            )

    @staticmethod
    def _alert_from_row(r: sqlite3.Row) -> Alert:
        return Alert(
            fingerprint=r["fingerprint"],
            rule=r["rule"],
            subject=r["subject"],
            level=r["level"],
            summary=r["summary"],
            labels=orjson.loads(r["labels"]),
            state=r["state"],
            active_since=r["active_since"],
            for_seconds=r["for_seconds"],
            one_shot=bool(r["one_shot"]),
            resolve_after=r["resolve_after"],
            fired_at=r["fired_at"],
            clear_since=r["clear_since"],
            resolved_at=r["resolved_at"],
            last_notified_at=r["last_notified_at"],
            notified=bool(r["notified"]),
            acked=r["acked_at"] is not None,
            id=r["id"],
        )

    def live_alerts(self) -> list[Alert]:
        rows = self._query("SELECT * FROM alerts WHERE state='firing' ORDER BY id")
        return [self._alert_from_row(r) for r in rows]

    def fire_times(self, since: float) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for r in self._query(
            "SELECT fingerprint, fired_at FROM alerts WHERE fired_at >= ? ORDER BY fired_at",
            (since,),
        ):
            out.setdefault(r[0], []).append(r[1])
        return out

    def acked_fingerprints(self) -> set[str]:
        rows = self._query(
            "SELECT fingerprint FROM alerts WHERE state='firing' AND acked_at IS NOT NULL"
        )
        return {r[0] for r in rows}

    def list_alerts(self, since: float, state: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM alerts WHERE (fired_at >= ? OR state='firing')"
        args: list[Any] = [since]
        if state:
            sql += " AND state = ?"
            args.append(state)
        out = []
        for r in self._query(sql + " ORDER BY id", args):
            row = dict(r)
            row["labels"] = orjson.loads(row["labels"])
            row["notified"] = bool(row["notified"])
            row["one_shot"] = bool(row["one_shot"])
            out.append(row)
        return out

    def alert_events(self, alert_id: int) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM alert_events WHERE alert_id=? ORDER BY id", (alert_id,))
        return [dict(r) for r in rows]

    def ack(self, alert_id: int, now: float) -> bool:
        with self._tx() as db:
            n = db.execute(
                "UPDATE alerts SET acked_at=? WHERE id=? AND acked_at IS NULL", (now, alert_id)
            ).rowcount
            exists = db.execute("SELECT 1 FROM alerts WHERE id=?", (alert_id,)).fetchone()
        return bool(n) or exists is not None
