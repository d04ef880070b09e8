"""Time series rows of `Store`: raw samples, one-minute rollups, the newest values.

Apart from the alert and queue rows because history has its own write path (one insert per
sample per cycle, rollups folded in SQL) and its own reader (`gridkeeper metrics`).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable
from typing import Any

import orjson

from gridkeeper.monitor.samples import Sample
from gridkeeper.monitor.sqlite import Connection

DAY = 86400.0


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


class SeriesRows(Connection):
    """Samples and rollups of `Store`."""

    _rolled: int | None  # rollups_through, read once (only we write it)

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
