"""Recording alert transitions: the alert row, its event, and its notifications, as one write.

Apart from the loop (service.py) because this is the one place where the alert book's view and
monitor.db's meet: ids flow back from the rows into the book's live alerts, and a failed write
must leave the book able to retry on the next transition.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable

from gridkeeper.monitor.outbox import Outbox
from gridkeeper.monitor.rules import AlertBook, Transition
from gridkeeper.monitor.store import Store

log = logging.getLogger("gridkeeper.monitor")


def record_transitions(
    store: Store, outbox: Outbox, book: AlertBook, transitions: Iterable[Transition]
) -> None:
    """Record firing/reminder/resolved transitions and queue the ones that notify."""
    ids: dict[str, int] = {}
    for t in transitions:
        if t.kind in ("pending", "cancelled"):
            continue
        alert = t.alert
        log.info("alert %s %s %s: %s", t.kind, alert.rule, alert.subject, alert.summary)
        if alert.id is None and alert.fingerprint in ids:
            alert.id = ids[alert.fingerprint]  # a one-shot fired and resolved in one batch
        try:
            # One transaction: an alert row without its notifications (or the reverse)
            # would be a message lost or one about an alert that does not exist.
            with store.transaction():
                alert_id = store.save_alert(alert)
                store.add_alert_event(alert_id, t.at, t.kind, t.notify, alert.summary)
                if t.notify:
                    outbox.enqueue(t)
        except sqlite3.Error as exc:
            alert.id = None
            log.error("cannot record alert %s %s: %s", t.kind, alert.fingerprint, exc)
            continue
        ids[alert.fingerprint] = alert_id
        live = book.alerts.get(alert.fingerprint)
        if live is not None:
            live.id = alert_id
    for live_alert in book.take_dirty():
        if live_alert.id is not None and live_alert.state == "firing":
            try:
                store.save_alert(live_alert)
            except sqlite3.Error as exc:
                log.error("cannot record alert %s: %s", live_alert.fingerprint, exc)
