"""monitor.db: history with rollups and retention, alert rows, outbox order, custom alerts."""

from __future__ import annotations

from pathlib import Path

from gridkeeper.monitor.rules import AlertBook, Observation, Policy
from gridkeeper.monitor.samples import Sample, labels
from gridkeeper.monitor.store import DAY, Store

T0 = 1_700_000_000.0  # a minute boundary: 1_700_000_000 / 60 is not whole, so align below
T0 = T0 - T0 % 60


def test_samples_fold_into_one_minute_rollups(tmp_path: Path) -> None:
    """Raw samples within a minute make one rollup row with count/avg/min/max/last."""
    store = Store(tmp_path / "monitor.db")
    for i, v in enumerate([10.0, 30.0, 20.0]):
        store.add_samples([Sample("gridkeeper_host_load1", v)], T0 + i * 10)
    store.add_samples([Sample("gridkeeper_host_load1", 5.0)], T0 + 60)
    raw = store.samples("gridkeeper_host_load1", T0)
    assert [r["value"] for r in raw] == [10.0, 30.0, 20.0, 5.0]
    roll = store.rollups("gridkeeper_host_load1", T0)
    assert len(roll) == 2
    first = roll[0]
    assert (first["count"], first["avg"], first["min"], first["max"], first["last"]) == (
        3,
        20.0,
        10.0,
        30.0,
        20.0,
    )
    assert roll[1]["ts"] == T0 + 60


def test_labels_separate_series(tmp_path: Path) -> None:
    """Two instances' samples of one metric stay apart, in history and in `latest`."""
    store = Store(tmp_path / "monitor.db")
    store.add_samples(
        [
            Sample("gridkeeper_instance_up", 1, labels(name="a")),
            Sample("gridkeeper_instance_up", 0, labels(name="b")),
        ],
        T0,
    )
    latest = store.latest("gridkeeper_instance_up")
    assert [(r["labels"]["name"], r["value"]) for r in latest] == [("a", 1.0), ("b", 0.0)]


def test_retention_drops_old_raw_samples_and_rollups(tmp_path: Path) -> None:
    """Raw samples go after raw_days, rollups after rollup_days."""
    store = Store(tmp_path / "monitor.db")
    store.add_samples([Sample("x", 1)], T0 - 10 * DAY)
    store.add_samples([Sample("x", 2)], T0 - 100 * DAY)
    store.add_samples([Sample("x", 3)], T0)
    removed = store.prune(T0, raw_days=7, rollup_days=90, max_bytes=10**9)
    assert removed["samples"] == 2
    assert removed["rollups"] == 1
    assert [r["value"] for r in store.samples("x", 0)] == [3.0]
    assert [r["last"] for r in store.rollups("x", 0)] == [1.0, 3.0]


def test_size_cap_drops_oldest_raw_samples(tmp_path: Path) -> None:
    """Past the byte cap the oldest raw samples are removed; the newest stay."""
    store = Store(tmp_path / "monitor.db")
    for i in range(50):
        batch = [Sample(f"metric_{j}", float(i), labels(k="v" * 50)) for j in range(40)]
        store.add_samples(batch, T0 - 3 * DAY + i * 3600)
    before = store.size_bytes()
    store.prune(T0, raw_days=7, rollup_days=90, max_bytes=before // 3)
    assert store.size_bytes() <= before // 3 or not store.samples(None, 0)
    remaining = store.samples("metric_0", 0)
    assert remaining and remaining[-1]["value"] == 49.0
    assert remaining[0]["value"] > 0.0


def test_alert_rows_round_trip(tmp_path: Path) -> None:
    """A firing alert saved and reloaded keeps its identity and timers."""
    store = Store(tmp_path / "monitor.db")
    book = AlertBook(Policy())
    out = book.observe(Observation(rule="custom", subject="x", active=True, summary="hi"), T0)
    alert = next(t.alert for t in out if t.kind == "firing")
    alert_id = store.save_alert(alert)
    store.add_alert_event(alert_id, T0, "firing", True, "hi")
    live = store.live_alerts()
    assert len(live) == 1 and live[0].fingerprint == alert.fingerprint and live[0].notified
    assert store.fire_times(T0 - 1) == {alert.fingerprint: [T0]}
    assert store.ack(alert_id, T0 + 1)
    assert store.acked_fingerprints() == {alert.fingerprint}
    assert not store.ack(alert_id + 99, T0)
    rows = store.list_alerts(T0 - 1, state="firing")
    assert [r["id"] for r in rows] == [alert_id]
    assert [e["kind"] for e in store.alert_events(alert_id)] == ["firing"]


def test_outbox_is_fifo_per_channel(tmp_path: Path) -> None:
    """The head of a channel is its oldest undelivered row; channels do not share a queue."""
    store = Store(tmp_path / "monitor.db")
    a1 = store.enqueue("webhook", None, "firing", b"1", T0)
    store.enqueue("email", None, "firing", b"e", T0)
    a2 = store.enqueue("webhook", None, "firing", b"2", T0)
    head = store.outbox_head("webhook")
    assert head is not None and head["id"] == a1
    store.outbox_failed(a1, "down", T0 + 5, dead=False)
    head = store.outbox_head("webhook")
    assert head is not None and head["id"] == a1 and head["attempts"] == 1
    store.outbox_delivered(a1, T0 + 6)
    head = store.outbox_head("webhook")
    assert head is not None and head["id"] == a2
    assert store.outbox_pending_counts() == {"webhook": 1, "email": 1}


def test_custom_alerts_and_silences(tmp_path: Path) -> None:
    """Custom alerts raised by another connection are seen; silences expire."""
    path = tmp_path / "monitor.db"
    store = Store(path)
    version = store.data_version()
    other = Store(path)
    other.raise_custom("disk-check", "error", "backup failed", T0)
    assert store.data_version() != version
    assert [r["name"] for r in store.active_custom()] == ["disk-check"]
    assert other.resolve_custom("disk-check")
    assert not other.resolve_custom("disk-check")
    assert store.active_custom() == []
    store.add_silence("instance_*", T0, T0 + 3600)
    assert len(store.active_silences(T0 + 10)) == 1
    assert store.active_silences(T0 + 3601) == []


def test_size_cap_keeps_the_last_day_and_then_drops_rollups(tmp_path: Path) -> None:
    """The last day of raw samples is never dropped; past that, the oldest rollups go."""
    store = Store(tmp_path / "monitor.db")
    for i in range(48):  # one sample an hour for two days
        store.add_samples([Sample("x", float(i), labels(k="v" * 200))], T0 - 2 * DAY + i * 3600)
    store.raise_custom("old", "error", "gone long ago", T0 - 400 * DAY)
    store.resolve_custom("old")
    store.raise_custom("live", "error", "still on", T0 - 400 * DAY)
    removed = store.prune(T0, raw_days=7, rollup_days=90, max_bytes=1)
    kept = store.samples("x", 0)
    assert [r["value"] for r in kept] == [float(i) for i in range(24, 48)]
    assert removed["rollups"] > 0
    # Only the minute still open is left, computed from its raw samples (not rolled up yet).
    assert [r["last"] for r in store.rollups("x", 0)] == [47.0]
    assert [r["name"] for r in store.active_custom()] == ["live"]
    assert removed["custom_alerts"] == 1


def test_a_minute_is_rolled_up_once_even_across_a_restart(tmp_path: Path) -> None:
    """Rollups are written when a later minute's sample arrives; a second Store on the same
    file (a restarted monitor) neither loses nor double-counts a minute; a sample older than the
    rolled-up minutes (a clock stepped back) still lands in its minute."""
    base = (T0 // 60) * 60
    store = Store(tmp_path / "monitor.db")
    store.add_samples([Sample("x", 1.0)], base + 1)
    store.add_samples([Sample("x", 3.0)], base + 30)
    store.close()
    store = Store(tmp_path / "monitor.db")
    store.add_samples([Sample("x", 2.0)], base + 50)
    store.add_samples([Sample("x", 7.0)], base + 61)  # minute 2 begins: minute 1 is rolled up
    store.add_samples([Sample("x", 9.0)], base + 62)
    store.add_samples([Sample("x", 5.0)], base - 60)  # late: the minute before
    roll = store.rollups("x", base - 120)
    assert [(r["ts"], r["count"], r["min"], r["max"], r["last"]) for r in roll] == [
        (base - 60, 1, 5.0, 5.0, 5.0),
        (base, 3, 1.0, 3.0, 2.0),
        (base + 60, 2, 7.0, 9.0, 9.0),
    ]
    rows = store._db.execute("SELECT minute, count FROM rollups ORDER BY minute").fetchall()
    assert [tuple(r) for r in rows] == [(base // 60 - 1, 1), (base // 60, 3)]
