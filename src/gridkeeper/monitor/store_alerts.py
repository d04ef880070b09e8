"""Alert rows of `Store`: alerts as the rule engine keeps them, their events, acks."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from gridkeeper.monitor.rules import Alert
from gridkeeper.monitor.sqlite import Connection


class AlertRows(Connection):
    """Alerts and alert events of `Store`."""

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
