"""`gridkeeper alert`, `alerts` and `metrics` against a real monitor.db."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from gridkeeper.cli.main import main
from gridkeeper.monitor.api import parse_duration
from gridkeeper.monitor.rules import AlertBook, Observation, Policy
from gridkeeper.monitor.samples import Sample, labels
from gridkeeper.monitor.store import Store


def _out(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


def test_parse_duration() -> None:
    """Durations with units; junk is a usage error."""
    assert parse_duration("90s") == 90
    assert parse_duration("30m") == 1800
    assert parse_duration("1h") == 3600
    assert parse_duration("2d") == 172800
    assert parse_duration("15") == 15
    from gridkeeper.errors import UsageError

    with pytest.raises(UsageError):
        parse_duration("soon")


def test_read_only_commands_do_not_create_the_db(
    gk_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`alerts` and `metrics` on a fresh home print nothing to list and write no file."""
    assert main(["alerts", "--json"]) == 0
    assert json.loads(_out(capsys)) == []
    assert main(["metrics", "--json"]) == 0
    assert json.loads(_out(capsys)) == []
    assert not (gk_home / "monitor.db").exists()


def test_alert_raise_and_resolve(gk_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A custom alert is recorded for the monitor; resolving twice is an error."""
    assert main(["alert", "raise", "backup", "--level", "error", "--message", "no backup"]) == 0
    assert "no monitor runs on this home" in capsys.readouterr().err
    store = Store.open(gk_home)
    (row,) = store.active_custom()
    assert (row["name"], row["level"], row["message"]) == ("backup", "error", "no backup")
    assert main(["alert", "resolve", "backup"]) == 0
    assert store.active_custom() == []
    assert main(["alert", "resolve", "backup"]) == 1
    assert main(["alert", "raise", "bad name"]) == 2
    store.close()


def test_alerts_list_ack_and_silence(gk_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """History lists a firing alert; ack marks it; silence records a pattern with an expiry."""
    store = Store.open(gk_home)
    book = AlertBook(Policy())
    now = time.time()
    out = book.observe(
        Observation(rule="instance_crashed", subject="bot1", active=True, summary="boom"), now
    )
    alert_id = store.save_alert(next(t.alert for t in out if t.kind == "firing"))
    assert main(["alerts", "--state", "firing", "--json"]) == 0
    rows = json.loads(_out(capsys))
    assert [(r["id"], r["rule"], r["subject"]) for r in rows] == [
        (alert_id, "instance_crashed", "bot1")
    ]
    assert main(["alerts"]) == 0
    text = _out(capsys)
    assert "instance_crashed" in text and "boom" in text
    assert main(["alerts", "--state", "resolved", "--json"]) == 0
    assert json.loads(_out(capsys)) == []
    assert main(["alerts", "ack", str(alert_id)]) == 0
    assert store.acked_fingerprints() == {rows[0]["fingerprint"]}
    assert main(["alerts", "ack", "9999"]) == 1
    assert main(["alerts", "silence", "instance_*", "--for", "2h"]) == 0
    (sil,) = store.active_silences(time.time())
    assert sil["pattern"] == "instance_*"
    assert 7100 < sil["expires_at"] - sil["created_at"] <= 7200
    assert main(["alerts", "silence", "x", "--for", "later"]) == 2
    store.close()


def test_metrics_latest_history_and_rollups(
    gk_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No NAME: latest per series; NAME: raw history; a long window: one-minute rollups."""
    store = Store.open(gk_home)
    now = time.time()
    store.add_samples([Sample("gridkeeper_host_load1", 1.5)], now - 120)
    store.add_samples(
        [
            Sample("gridkeeper_host_load1", 2.5),
            Sample("gridkeeper_instance_up", 1, labels(name="b")),
        ],
        now,
    )
    store.close()
    assert main(["metrics", "--json"]) == 0
    latest = {r["name"]: r["value"] for r in json.loads(_out(capsys))}
    assert latest == {"gridkeeper_host_load1": 2.5, "gridkeeper_instance_up": 1.0}
    assert main(["metrics", "gridkeeper_host_load1", "--since", "1h", "--json"]) == 0
    assert [r["value"] for r in json.loads(_out(capsys))] == [1.5, 2.5]
    assert main(["metrics", "gridkeeper_host_load1", "--since", "7d", "--json"]) == 0
    rollups = json.loads(_out(capsys))
    assert [r["max"] for r in rollups] == [1.5, 2.5] and all(r["count"] == 1 for r in rollups)
    assert main(["metrics", "gridkeeper_host_load1", "--since", "7d"]) == 0
    assert "MINUTE" in _out(capsys)
