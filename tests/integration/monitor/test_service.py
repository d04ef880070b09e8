"""The monitor service end to end, with keeper events fed as a plain iterable of event dicts."""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from gridkeeper.config.monitor import (
    AlertRules,
    DurationRule,
    EmailChannel,
    MonitorSettings,
    NotificationSettings,
    TelegramChannel,
    WebhookChannel,
)
from gridkeeper.errors import OperationFailed
from gridkeeper.monitor import raise_alert, resolve_alert
from gridkeeper.monitor.samples import Sample
from gridkeeper.monitor.service import MonitorService
from gridkeeper.monitor.store import Store

from .servers import HttpReceiver, SmtpReceiver, free_port, valid_signature, wait_for

pytestmark = pytest.mark.integration
SECRET = "hook-secret"
TOKEN = "42:abc"


class EventFeed:
    """A plain iterable of keeper event dicts that the test appends to."""

    def __init__(self) -> None:
        self._q: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.seq = 0

    def put(self, kind: str, instance: str = "bot1", message: str = "") -> None:
        self.seq += 1
        self._q.put(
            {
                "seq": self.seq,
                "ts": "2024-01-01T00:00:00Z",
                "instance": instance,
                "kind": kind,
                "message": message,
                "data": {},
            }
        )

    def close(self) -> None:
        self._q.put(None)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._q.get, None)


def _settings(**rules: Any) -> MonitorSettings:
    return MonitorSettings(
        interval=0.2, metrics_port=0, rules=AlertRules(**{"resolve_after": 0.3, **rules})
    )


def _notifications(
    *, webhook: int, telegram: str = "", smtp: int = 0, retry: float = 0.05
) -> NotificationSettings:
    return NotificationSettings(
        webhook=WebhookChannel(
            enabled=True, url=f"http://127.0.0.1:{webhook}/hook", secret=SecretStr(SECRET)
        ),
        telegram=TelegramChannel(
            enabled=bool(telegram), bot_token=SecretStr(TOKEN), chat_id="7", api_base=telegram
        ),
        email=EmailChannel(
            enabled=bool(smtp),
            smtp_server="127.0.0.1",
            smtp_port=smtp or 25,
            security="none",
            from_email="gk@example.com",
            to_emails=["ops@example.com"],
            timeout=5,
        ),
        retry_initial=retry,
        retry_max=0.3,
    )


class Running:
    """A MonitorService running its loop in a thread."""

    def __init__(self, service: MonitorService) -> None:
        self.service = service
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=service.run, args=(self.stop_event,), daemon=True)
        self.thread.start()
        wait_for(lambda: service.outbox is not None, what="service start")

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


def _kinds(receiver: HttpReceiver) -> list[tuple[str, str]]:
    return [(r.json()["kind"], r.json()["subject"]) for r in receiver.received()]


def test_crash_reaches_every_channel_once_and_recovery_once(gk_home: Path) -> None:
    """A crash event: one message on SMTP, Telegram and webhook; the recovery: one resolved."""
    webhook = HttpReceiver().start()
    telegram = HttpReceiver().start()
    smtp = SmtpReceiver().start()
    feed = EventFeed()
    service = MonitorService(
        gk_home,
        _settings(),
        _notifications(webhook=webhook.port, telegram=telegram.url, smtp=smtp.port),
        events=feed,
    )
    running = Running(service)
    try:
        feed.put("starting")
        feed.put("running")
        feed.put("crashed", message="exit code 1")
        feed.put("backoff")
        feed.put("starting")
        feed.put("running")
        wait_for(lambda: len(webhook.received()) == 2, what="webhook firing + resolved")
        wait_for(lambda: len(telegram.received()) == 2, what="telegram firing + resolved")
        wait_for(lambda: len(smtp.received()) == 2, what="email firing + resolved")
        assert _kinds(webhook) == [("firing", "bot1"), ("resolved", "bot1")]
        assert all(valid_signature(r, SECRET) for r in webhook.received())
        first = webhook.received()[0].json()
        assert first["rule"] == "instance_crashed" and "exit code 1" in first["summary"]
        assert [r.path for r in telegram.received()] == [f"/bot{TOKEN}/sendMessage"] * 2
        assert "RESOLVED" in telegram.received()[1].json()["text"]
        subjects = [str(m["Subject"]) for _, m in smtp.received()]
        assert subjects[0].startswith("[gridkeeper] FIRING error instance_crashed bot1")
        assert subjects[1].startswith("[gridkeeper] RESOLVED")
        store = Store.open(gk_home)
        (alert,) = store.list_alerts(0)
        assert alert["state"] == "resolved" and alert["rule"] == "instance_crashed"
        store.close()
    finally:
        feed.close()
        running.stop()
        webhook.stop()
        telegram.stop()
        smtp.stop()


def test_alerts_raised_while_webhook_down_arrive_in_order_across_restart(gk_home: Path) -> None:
    """Receiver down, monitor restarted in between: every alert arrives, in order, once back."""
    port = free_port()
    notifications = _notifications(webhook=port)
    first = Running(MonitorService(gk_home, _settings(), notifications, events=[]))
    raise_alert("backup-failed", level="error", message="nightly backup failed", home=gk_home)
    raise_alert("balance-low", level="warning", message="USDC below 100", home=gk_home)
    store = Store.open(gk_home)
    wait_for(
        lambda: len(store.outbox_rows()) == 2 and store.outbox_rows()[0]["attempts"] >= 1,
        what="two queued notifications, one tried",
    )
    first.stop()
    raise_alert("api-slow", level="critical", message="p99 2s", home=gk_home)  # monitor is down
    second = Running(MonitorService(gk_home, _settings(), notifications, events=[]))
    wait_for(lambda: len(store.outbox_rows()) == 3, what="third notification queued")
    receiver = HttpReceiver(port=port).start()
    try:
        wait_for(lambda: len(receiver.received()) == 3, what="3 deliveries")
        assert _kinds(receiver) == [
            ("firing", "backup-failed"),
            ("firing", "balance-low"),
            ("firing", "api-slow"),
        ]
        assert resolve_alert("balance-low", home=gk_home)
        wait_for(lambda: len(receiver.received()) == 4, what="resolved delivery")
        assert _kinds(receiver)[3] == ("resolved", "balance-low")
    finally:
        second.stop()
        receiver.stop()
        store.close()


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


def test_flapping_for_a_minute_sends_a_bounded_number(gk_home: Path) -> None:
    """Crash/run every second for a minute (clock driven): one firing and one resolved."""
    receiver = HttpReceiver().start()
    clock = Clock()
    service = MonitorService(
        gk_home,
        _settings(resolve_after=5.0),
        _notifications(webhook=receiver.port),
        events=[],
        clock=clock,
    )
    service.start()
    try:
        for i in range(60):
            clock.t += 1
            service.handle_event({"seq": i + 1, "instance": "bot1", "kind": "crashed"})
            service.poll()
            clock.t += 0.5
            service.handle_event({"seq": 1000 + i, "instance": "bot1", "kind": "running"})
            service.poll()
        clock.t += 700
        service.poll()
        assert service.store is not None
        store = service.store
        wait_for(lambda: store.outbox_pending_counts() == {}, what="outbox drained")
        assert _kinds(receiver) == [("firing", "bot1"), ("resolved", "bot1")]
    finally:
        service.stop()
        receiver.stop()


def test_silence_and_keeper_down(gk_home: Path) -> None:
    """A silenced rule sends nothing; an unreachable keeper raises the keeper_down alert."""
    receiver = HttpReceiver().start()
    store = Store.open(gk_home)
    store.add_silence("custom:quiet*", 0, 4_000_000_000)
    store.close()

    def keeper_status() -> list[Mapping[str, Any]]:
        raise ConnectionRefusedError("keeper.sock: connection refused")

    service = MonitorService(
        gk_home,
        _settings(keeper_down=DurationRule(for_seconds=0, level="critical")),
        _notifications(webhook=receiver.port),
        events=[],
        status=keeper_status,
    )
    running = Running(service)
    try:
        raise_alert("quiet-one", home=gk_home)
        raise_alert("loud-one", home=gk_home)
        wait_for(lambda: len(receiver.received()) >= 2, what="keeper_down and loud-one")
        wait_for(lambda: len(service.firing()) == 3, what="three firing alerts")
        subjects = {s for _, s in _kinds(receiver)}
        assert subjects == {"keeper", "loud-one"}
        keeper = next(r.json() for r in receiver.received() if r.json()["subject"] == "keeper")
        assert keeper["level"] == "critical" and "connection refused" in keeper["summary"]
    finally:
        running.stop()
        receiver.stop()


def test_second_monitor_on_same_home_is_refused(gk_home: Path) -> None:
    """Two monitors would send every alert twice: the second one fails to start."""
    first = MonitorService(gk_home, _settings(), NotificationSettings(), events=[])
    first.start()
    try:
        second = MonitorService(gk_home, _settings(), NotificationSettings(), events=[])
        with pytest.raises(OperationFailed, match="already runs"):
            second.start()
    finally:
        first.stop()


def test_status_feeds_history_and_exporter(gk_home: Path) -> None:
    """Instances from the keeper status appear in monitor.db and on /metrics."""
    port = free_port()
    statuses = [{"name": "bot1", "state": "running", "pid": None, "restarts": 4}]
    settings = MonitorSettings(interval=0.2, metrics_port=port)
    running = Running(
        MonitorService(
            gk_home, settings, NotificationSettings(), events=[], status=lambda: statuses
        )
    )
    try:

        def exported() -> str:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/metrics").text
            except httpx.HTTPError:
                return ""

        wait_for(lambda: "gridkeeper_instance_up" in exported(), what="exported instance metrics")
        text = exported()
        assert 'gridkeeper_instance_restarts_total{name="bot1"} 4.0' in text
        assert "gridkeeper_keeper_up 1.0" in text
        assert "gridkeeper_host_load1 " in text
        assert "gridkeeper_build_info{version=" in text
        store = Store.open(gk_home)
        rows = store.samples("gridkeeper_instance_up", 0)
        assert rows and rows[0]["labels"] == {"name": "bot1"} and rows[0]["value"] == 1.0
        store.close()
    finally:
        running.stop()


def test_alert_clearing_when_the_monitor_restarts_still_resolves(gk_home: Path) -> None:
    """clear_since is stored: a restart within resolve_after does not leave the alert firing."""
    receiver = HttpReceiver().start()
    clock = Clock()
    settings, notes = _settings(resolve_after=30.0), _notifications(webhook=receiver.port)
    first = MonitorService(gk_home, settings, notes, events=[], clock=clock)
    first.start()
    try:
        first.handle_event({"seq": 1, "instance": "bot1", "kind": "crashed"})
        clock.t += 1
        first.handle_event({"seq": 2, "instance": "bot1", "kind": "running"})
    finally:
        first.stop()
    clock.t += 40
    second = MonitorService(gk_home, settings, notes, events=[], clock=clock)
    second.start()
    try:
        second.poll()
        assert second.firing() == []
        wait_for(lambda: len(receiver.received()) == 2, what="firing and resolved")
        assert [r.json()["kind"] for r in receiver.received()] == ["firing", "resolved"]
    finally:
        second.stop()
        receiver.stop()


def test_silence_expiry_is_noticed_without_another_write(gk_home: Path) -> None:
    """When a silence ends, its still-firing alert is announced; nothing else wrote the db."""
    clock = Clock()
    store = Store.open(gk_home)
    store.add_silence("custom:*", clock.t, clock.t + 10)
    store.close()
    service = MonitorService(gk_home, _settings(), NotificationSettings(), events=[], clock=clock)
    service.start()
    try:
        assert service.store is not None
        raise_alert("quiet", home=gk_home)
        service.poll()
        assert [a["notified"] for a in service.store.list_alerts(0)] == [False]
        clock.t += 11
        service.poll()
        assert [a["notified"] for a in service.store.list_alerts(0)] == [True]
    finally:
        service.stop()


def _down_keeper() -> list[Mapping[str, Any]]:
    raise ConnectionRefusedError("keeper.sock: connection refused")


def test_full_database_does_not_stop_the_rules(gk_home: Path) -> None:
    """A full disk (SQLITE_FULL) is logged; the cycle still evaluates and keeps the alert."""
    settings = _settings(keeper_down=DurationRule(for_seconds=0, level="critical"))
    service = MonitorService(
        gk_home, settings, NotificationSettings(), events=[], status=_down_keeper
    )
    service.start()
    try:
        assert service.store is not None
        db = service.store._db
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count={pages + 2}")  # no room to grow: "disk is full"
        with pytest.raises(sqlite3.OperationalError, match="full"):
            for i in range(100000):  # fill the samples' last free pages
                service.store.add_samples(
                    [Sample("gridkeeper_host_cpu_used_ratio", 0.01)], i * 60.0
                )
        for _ in range(3):
            service.cycle()
            service.poll()
        assert len(service.firing()) == 1
    finally:
        service.stop()


def test_alert_and_its_notifications_are_one_transaction(gk_home: Path) -> None:
    """When queuing the notification fails, no alert row is left without its message."""
    receiver = HttpReceiver().start()
    store = Store.open(gk_home)
    store._db.execute(
        "CREATE TRIGGER no_room BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'full'); END"
    )
    store.close()
    service = MonitorService(gk_home, _settings(), _notifications(webhook=receiver.port), events=[])
    service.start()
    try:
        service.handle_event({"seq": 1, "instance": "bot1", "kind": "crashed"})
        assert service.store is not None
        assert service.store.list_alerts(0) == [] and service.store.outbox_rows() == []
        assert len(service.firing()) == 1
    finally:
        service.stop()
        receiver.stop()


def test_channel_urls_are_kept_out_of_the_logs(gk_home: Path) -> None:
    """httpx logs full URLs at INFO; webhook URLs and the bot URL can be credentials."""
    from gridkeeper.logs.logger import _redactor

    port = free_port()
    service = MonitorService(
        gk_home, _settings(), _notifications(webhook=port, telegram="http://127.0.0.1:9"), events=[]
    )
    service.start()
    try:
        assert logging.getLogger("httpx").level == logging.WARNING
        url = f"http://127.0.0.1:{port}/hook"
        assert url not in _redactor(f"POST {url} 500")
        assert TOKEN not in _redactor(f"POST http://127.0.0.1:9/bot{TOKEN}/sendMessage")
    finally:
        service.stop()


def test_keeper_write_trouble_fires_and_resolves(gk_home: Path) -> None:
    """Issue 11: the keeper's status says its state store cannot be written and log lines were
    lost (a full disk): the monitor alerts on each, and resolves both once the keeper reports
    it caught up."""
    statuses = [
        {
            "name": "bot1",
            "state": "running",
            "pid": None,
            "restarts": 0,
            "state_store_degraded": True,
            "log_lines_lost": 12,
        }
    ]
    settings = MonitorSettings(interval=0.2, metrics_port=0, rules=AlertRules(resolve_after=0.5))
    service = MonitorService(
        gk_home, settings, NotificationSettings(), events=[], status=lambda: statuses
    )
    wanted = {"keeper_store_degraded", "log_lines_lost"}

    def firing() -> dict[str, str]:
        """rule -> summary of the firing keeper alerts."""
        alerts = list(service.book.alerts.values())
        return {a.rule: a.summary for a in alerts if a.state == "firing" and a.rule in wanted}

    running = Running(service)
    try:
        wait_for(lambda: set(firing()) == wanted, what="both alerts firing")
        assert "12 log lines" in firing()["log_lines_lost"]
        statuses[0] = {**statuses[0], "state_store_degraded": False, "log_lines_lost": 0}
        wait_for(lambda: not firing(), what="both resolved")
    finally:
        running.stop()
