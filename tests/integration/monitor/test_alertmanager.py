"""The alertmanager channel against a real Alertmanager on 127.0.0.1, through the monitor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from gridkeeper.config.monitor import AlertmanagerChannel, NotificationSettings
from gridkeeper.monitor.channels.alertmanager import AlertmanagerSender, to_alert
from gridkeeper.monitor.channels.base import DeliveryError
from gridkeeper.monitor.service import MonitorService
from tests.components import alertmanager
from tests.support import free_port, wait_for

from .test_service import EventFeed, Running, _settings

pytestmark = pytest.mark.integration


def _alerts(url: str) -> list[dict[str, Any]]:
    # active, silenced and inhibited: everything Alertmanager still holds
    resp = httpx.get(f"{url}/api/v2/alerts", timeout=5)
    resp.raise_for_status()
    return list(resp.json())


def test_crash_is_one_alert_and_recovery_resolves_it(gk_home: Path, tmp_path: Path) -> None:
    """One crash → one active alert with our labels; recovery → Alertmanager marks it resolved."""
    with alertmanager(tmp_path / "am") as am:
        notifications = NotificationSettings(
            alertmanager=AlertmanagerChannel(
                enabled=True,
                urls=[f"http://127.0.0.1:{free_port()}", am.url],  # one HA member down
                labels={"env": "test"},
            ),
            retry_initial=0.05,
            retry_max=0.3,
        )
        feed = EventFeed()
        running = Running(MonitorService(gk_home, _settings(), notifications, events=feed))
        try:
            feed.put("running")
            feed.put("crashed", message="exit code 1")
            (alert,) = wait_for(lambda: _alerts(am.url), what="the alert in Alertmanager")
            labels = alert["labels"]
            assert labels["alertname"] == "instance_crashed"
            assert labels["instance"] == "bot1" and labels["subject"] == "bot1"
            assert labels["severity"] == "error" and labels["env"] == "test"
            assert labels["host"]
            assert alert["status"]["state"] == "active"
            assert "exit code 1" in alert["annotations"]["summary"]
            feed.put("starting")
            feed.put("running")
            wait_for(
                lambda: _alerts(am.url) == [],
                what="the alert resolved (gone from the active list)",
            )
        finally:
            feed.close()
            running.stop()


def test_refused_everywhere_is_a_delivery_error_with_status(tmp_path: Path) -> None:
    """A 400 from every URL is permanent (the outbox gives it up); a dead URL is retryable."""
    with alertmanager(tmp_path / "am") as am:
        sender = AlertmanagerSender(
            AlertmanagerChannel(enabled=True, urls=[am.url], password=SecretStr("x"))
        )
        bad = {"status": "firing", "rule": "r", "labels": {"bad label!": "v"}}
        with pytest.raises(DeliveryError) as refused:
            sender.send(bad, "1")
        assert refused.value.status == 400 and refused.value.permanent
        sender.close()
    down = AlertmanagerSender(
        AlertmanagerChannel(enabled=True, urls=[f"http://127.0.0.1:{free_port()}"])
    )
    with pytest.raises(DeliveryError) as unreachable:
        down.send({"status": "firing", "rule": "r"}, "1")
    assert not unreachable.value.permanent
    down.close()


def test_alert_shape() -> None:
    """Firing: endsAt is send time + ttl; resolved: endsAt is the resolve time; ours win."""
    cfg = AlertmanagerChannel(
        enabled=True, urls=["http://x"], labels={"host": "spoof", "team": "a"}, firing_ttl=60
    )
    firing = {
        "status": "firing",
        "rule": "host_disk",
        "subject": "/",
        "level": "error",
        "labels": {"mountpoint": "/"},
        "host": "box",
        "fired_at": "2024-01-01T00:00:00Z",
    }
    a = to_alert(firing, cfg, now=1704067200.0)
    assert a["labels"]["host"] == "box" and a["labels"]["team"] == "a"
    assert a["labels"]["mountpoint"] == "/" and a["startsAt"] == "2024-01-01T00:00:00Z"
    assert a["endsAt"] == "2024-01-01T00:01:00Z"
    r = to_alert({**firing, "status": "resolved", "resolved_at": "2024-01-01T00:05:00Z"}, cfg, 0.0)
    assert r["endsAt"] == "2024-01-01T00:05:00Z" and r["labels"] == a["labels"]
