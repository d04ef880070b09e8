"""The monitor against a keeper socket that hangs, and one with events from before it started."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from gridkeeper.config.monitor import (
    AlertRules,
    DurationRule,
    MonitorSettings,
    NotificationSettings,
)
from gridkeeper.monitor.service import MonitorService

from .servers import wait_for

pytestmark = pytest.mark.integration


def _settings() -> MonitorSettings:
    rules = AlertRules(keeper_down=DurationRule(for_seconds=0, level="critical"))
    # A FakeKeeper serves keeper.sock without holding keeper.pid's lock: to the keeper watcher
    # that is a dead keeper, and it would start a real one that outlives the test.
    return MonitorSettings(interval=0.2, rules=rules, restart_keeper=False, metrics_port=0)


class Running:
    def __init__(self, service: MonitorService) -> None:
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=service.run, args=(self.stop_event,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(15)
        assert not self.thread.is_alive()


def test_hung_keeper_fires_keeper_down(gk_home: Path) -> None:
    """A stopped keeper (SIGSTOP) accepts connections and never answers."""
    gk_home.mkdir(parents=True, exist_ok=True)
    hung = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hung.bind(str(gk_home / "keeper.sock"))
    hung.listen(64)  # never accepted, never answered
    service = MonitorService(gk_home, _settings(), NotificationSettings())
    running = Running(service)
    try:
        wait_for(lambda: service.store is not None and service.firing(), what="keeper_down")
        assert service.store is not None
        (alert,) = service.store.list_alerts(0, "firing")
        assert alert["rule"] == "keeper_down"
    finally:
        running.stop()
        hung.close()


class FakeKeeper:
    """Answers `status`, `events` and `subscribe` like the keeper, recording the subscription."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        self.since: list[Any] = []
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        req = json.loads(conn.makefile("rb").readline())
        op, args = req["op"], req.get("args") or {}
        if op == "status":
            result: Any = [{"name": "bot1", "state": "backoff", "pid": None, "restarts": 1}]
            conn.sendall(json.dumps({"ok": True, "result": result}).encode() + b"\n")
        elif op == "events":
            started = {"seq": 7, "instance": "keeper", "kind": "keeper_started", "data": {}}
            conn.sendall(json.dumps({"ok": True, "result": [started]}).encode() + b"\n")
        elif op == "subscribe":
            self.since.append(args.get("since_seq"))
            crash = {"seq": 8, "instance": "bot1", "kind": "crashed", "message": "exit 1"}
            conn.sendall(b'{"ok": true}\n' + json.dumps({"event": crash}).encode() + b"\n")
            return  # kept open: a live subscription
        conn.close()

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def test_fresh_monitor_subscribes_from_the_keeper_start(gk_home: Path) -> None:
    """A crash the keeper reported before the monitor's first subscription is not lost."""
    gk_home.mkdir(parents=True, exist_ok=True)
    keeper = FakeKeeper(gk_home / "keeper.sock")
    service = MonitorService(gk_home, _settings(), NotificationSettings())
    running = Running(service)
    try:
        wait_for(lambda: keeper.since, what="subscription")
        assert keeper.since[0] == 6
        wait_for(lambda: service.firing(), what="crash alert")
        assert service.store is not None
        rules = {a["rule"] for a in service.store.list_alerts(0, "firing")}
        assert "instance_crashed" in rules
    finally:
        running.stop()
        keeper.close()
