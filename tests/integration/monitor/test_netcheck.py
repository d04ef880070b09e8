"""Network checks against real listeners on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from gridkeeper.config.monitor import NetworkTarget
from gridkeeper.monitor.netcheck import check, check_all, result_samples

from .servers import HttpReceiver, free_port

pytestmark = pytest.mark.integration


def test_tcp_up_and_down() -> None:
    """A listening port is up with a latency; a closed one is down after every retry."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        up = check(NetworkTarget(name="l", kind="tcp", host="127.0.0.1", port=port, timeout=2))
    assert up.up and up.latency_s is not None and up.attempts == 1
    closed = free_port()
    down = check(
        NetworkTarget(name="c", kind="tcp", host="127.0.0.1", port=closed, timeout=2, retries=2)
    )
    assert not down.up and down.attempts == 3 and "ConnectionRefused" in down.error


def test_http_status_decides() -> None:
    """HTTP below 500 is up; 5xx is down; samples carry up and latency."""
    ok = HttpReceiver().start()
    bad = HttpReceiver(respond=lambda r: (503, {}, b"")).start()
    try:
        results = check_all(
            [
                NetworkTarget(name="ok", url=ok.url + "/api", timeout=2),
                NetworkTarget(name="bad", url=bad.url, timeout=2, retries=1),
            ]
        )
    finally:
        ok.stop()
        bad.stop()
    assert [(r.name, r.up) for r in results] == [("ok", True), ("bad", False)]
    assert results[1].attempts == 2 and "503" in results[1].error
    samples = {(s.name, s.label("target")): s.value for s in result_samples(results)}
    assert samples[("gridkeeper_network_target_up", "ok")] == 1
    assert samples[("gridkeeper_network_target_up", "bad")] == 0
    assert ("gridkeeper_network_target_latency_seconds", "ok") in samples
