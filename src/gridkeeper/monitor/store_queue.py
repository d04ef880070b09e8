"""Rows the CLI and the outbox work with: silences, custom alerts, the outbox queue."""

from __future__ import annotations

import uuid
from typing import Any

from gridkeeper.monitor.sqlite import Connection


class QueueRows(Connection):
    """Silences, custom alerts and outbox rows of `Store`."""

    # -- silences ----------------------------------------------------------------------------
    def add_silence(self, pattern: str, now: float, expires_at: float, comment: str = "") -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO silences(pattern, created_at, expires_at, comment) VALUES(?,?,?,?)",
                (pattern, now, expires_at, comment),
            )
        return int(cur.lastrowid or 0)

    def active_silences(self, now: float) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM silences WHERE expires_at > ? ORDER BY id", (now,))
        return [dict(r) for r in rows]

    # -- custom alerts -----------------------------------------------------------------------
    def raise_custom(self, name: str, level: str | None, message: str, now: float) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO custom_alerts(name, level, message, raised_at, active) "
                "VALUES(?,?,?,?,1) ON CONFLICT(name) DO UPDATE SET level=excluded.level, "
                "message=excluded.message, raised_at=excluded.raised_at, active=1",
                (name, level, message, now),
            )

    def resolve_custom(self, name: str) -> bool:
        with self._tx() as db:
            n = db.execute(
                "UPDATE custom_alerts SET active=0 WHERE name=? AND active=1", (name,)
            ).rowcount
        return bool(n)

    def active_custom(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM custom_alerts WHERE active=1 ORDER BY raised_at")
        return [dict(r) for r in rows]

    # -- outbox ------------------------------------------------------------------------------
    def enqueue(
        self, channel: str, alert_id: int | None, kind: str, payload: bytes, now: float
    ) -> int:
        # A UUID, not the row id: a recreated monitor.db restarts row ids, and a receiver that
        # deduplicates on the delivery id would then drop new notifications as repeats.
        delivery_id = uuid.uuid4().hex
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO outbox(channel, alert_id, kind, payload, created_at, next_attempt_at, "
                "delivery_id) VALUES(?,?,?,?,?,?,?)",
                (channel, alert_id, kind, payload, now, now, delivery_id),
            )
        return int(cur.lastrowid or 0)

    def outbox_head(self, channel: str) -> dict[str, Any] | None:
        """The oldest undelivered notification of a channel (delivery is FIFO per channel)."""
        rows = self._query(
            "SELECT * FROM outbox WHERE channel=? AND delivered_at IS NULL AND dead=0 "
            "ORDER BY id LIMIT 1",
            (channel,),
        )
        return dict(rows[0]) if rows else None

    def outbox_delivered(self, row_id: int, now: float) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE outbox SET delivered_at=?, attempts=attempts+1 WHERE id=?", (now, row_id)
            )

    def outbox_failed(self, row_id: int, error: str, next_attempt_at: float, dead: bool) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE outbox SET attempts=attempts+1, last_error=?, next_attempt_at=?, dead=? "
                "WHERE id=?",
                (error[:500], next_attempt_at, int(dead), row_id),
            )

    def outbox_rows(self, channel: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM outbox"
        args: list[Any] = []
        if channel:
            sql += " WHERE channel=?"
            args.append(channel)
        return [dict(r) for r in self._query(sql + " ORDER BY id", args)]

    def outbox_dead_counts(self) -> dict[str, int]:
        """Notifications given up (refused for good, or too old), per channel."""
        rows = self._query("SELECT channel, count(*) FROM outbox WHERE dead=1 GROUP BY channel")
        return {r[0]: int(r[1]) for r in rows}

    def outbox_pending_counts(self) -> dict[str, int]:
        rows = self._query(
            "SELECT channel, count(*) FROM outbox WHERE delivered_at IS NULL AND dead=0 "
            "GROUP BY channel"
        )
        return {r[0]: int(r[1]) for r in rows}
