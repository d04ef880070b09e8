"""Prometheus exposition of the exporter (prometheus_client), and the endpoint serving it."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gridkeeper.config.monitor import MonitorSettings, NotificationSettings
from gridkeeper.monitor import exporter as exporter_module
from gridkeeper.monitor.collect import CpuCounter
from gridkeeper.monitor.exporter import Exporter, render
from gridkeeper.monitor.samples import METRICS, Sample, labels, stored
from gridkeeper.monitor.service import MonitorService
from tests.support import closed_by_server, wait_for


def test_render_text_format() -> None:
    """HELP/TYPE once per metric, labels quoted and escaped, counters typed as counters."""
    text = render(
        [
            Sample("gridkeeper_instance_up", 1, labels(name="b")),
            Sample("gridkeeper_instance_up", 0, labels(name='a"x\\')),
            Sample("gridkeeper_host_load1", 0.25),
            Sample("gridkeeper_instance_restarts_total", 3, labels(name="b")),
        ],
        version="1.2.3",
    )
    lines = text.splitlines()
    assert "# TYPE gridkeeper_instance_restarts_total counter" in lines
    assert 'gridkeeper_instance_restarts_total{name="b"} 3.0' in lines
    assert "# HELP gridkeeper_instance_up 1 when the instance is running." in lines
    assert "# TYPE gridkeeper_instance_up gauge" in lines
    assert 'gridkeeper_instance_up{name="a\\"x\\\\"} 0.0' in lines
    assert 'gridkeeper_instance_up{name="b"} 1.0' in lines
    assert "gridkeeper_host_load1 0.25" in lines
    assert 'gridkeeper_build_info{version="1.2.3"} 1.0' in lines
    assert sum(1 for line in lines if line.startswith("# TYPE gridkeeper_instance_up ")) == 1
    # The official parser reads it back with the same types.
    types = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert types["gridkeeper_instance_restarts"] == "counter"
    assert types["gridkeeper_instance_up"] == "gauge"


def test_catalogue_follows_the_naming_guide() -> None:
    """Every name is ours (no node_*), no percent, counters and only counters end in _total."""
    for name, (kind, help_text) in METRICS.items():
        assert name.startswith("gridkeeper_"), name
        assert "percent" not in name, name
        assert name.endswith("_total") == (kind == "counter"), name
        assert help_text.endswith("."), name


def test_grid_and_cpu_mode_samples_are_not_stored() -> None:
    """The monitor.db history keeps host/instance samples, not the grids' or per-mode CPU."""
    assert stored(Sample("gridkeeper_instance_up", 1))
    assert stored(Sample("gridkeeper_host_cpu_used_ratio", 0.5))
    assert not stored(Sample("gridkeeper_grid_total_pnl", 1))
    assert not stored(Sample("gridkeeper_host_cpu_seconds_total", 1, labels(mode="idle")))


def test_cpu_counter_survives_members_leaving_and_restarts() -> None:
    """A member's last time is kept when it leaves: the sum never goes down, across a restart."""
    counter = CpuCounter()
    assert counter.update({(1, 0.0): 2.0, (2, 0.0): 1.0}) == 3.0
    assert counter.update({(1, 0.0): 2.5}) == 3.5  # pid 2 exited after 1.0 s
    assert counter.update({(7, 9.0): 0.1}) == 3.6  # the whole bot restarted as pid 7


def test_endpoint_serves_latest_snapshot_on_loopback() -> None:
    """GET /metrics returns the last update plus process metrics; other paths are 404."""
    exporter = Exporter(0).start()
    try:
        exporter.update([Sample("gridkeeper_keeper_up", 1)], keeper_pid=os.getpid())
        base = f"http://127.0.0.1:{exporter.port}"
        resp = httpx.get(base + "/metrics")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "gridkeeper_keeper_up 1.0" in resp.text
        assert "process_resident_memory_bytes " in resp.text  # the monitor's own
        assert "gridkeeper_keeper_process_cpu_seconds_total " in resp.text
        exporter.update([Sample("gridkeeper_keeper_up", 0)], keeper_pid=None)
        text = httpx.get(base + "/metrics").text
        assert "gridkeeper_keeper_up 0.0" in text
        assert "gridkeeper_keeper_process_" not in text  # keeper down: no stale series
        # Prometheus asks for OpenMetrics and gets it.
        om = httpx.get(base + "/metrics", headers={"Accept": "application/openmetrics-text"})
        assert om.headers["content-type"].startswith("application/openmetrics-text")
        assert om.text.endswith("# EOF\n")
        assert httpx.get(base + "/other").status_code == 404
        assert httpx.get(base + "/metrics", headers={"Host": "evil.example"}).status_code == 400
    finally:
        exporter.stop()


def test_two_exporters_in_one_process_do_not_share_series() -> None:
    """Each exporter has its own registry (no global state between monitors or tests)."""
    a, b = Exporter(0).start(), Exporter(0).start()
    try:
        a.update([Sample("gridkeeper_alerts_firing", 5)])
        b.update([Sample("gridkeeper_alerts_firing", 7)])
        assert (
            "gridkeeper_alerts_firing 5.0" in httpx.get(f"http://127.0.0.1:{a.port}/metrics").text
        )
        assert (
            "gridkeeper_alerts_firing 7.0" in httpx.get(f"http://127.0.0.1:{b.port}/metrics").text
        )
    finally:
        a.stop()
        b.stop()


def test_a_busy_metrics_port_is_logged_and_the_monitor_runs_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another program holds the port: the monitor starts without /metrics and says why."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    service = MonitorService(
        tmp_path,
        MonitorSettings(metrics_port=port),
        NotificationSettings(),
        events=[],
        status=lambda: [],
    )
    try:
        with caplog.at_level(logging.WARNING, logger="gridkeeper.monitor"):
            service.start()
        assert service.exporter is None
        assert f"cannot listen on 127.0.0.1:{port}" in caplog.text
        service.cycle()  # sampling and alerting go on
        assert service.store is not None
        assert service.store.samples("gridkeeper_keeper_up", 0)
    finally:
        service.stop()
        holder.close()


def test_metrics_are_on_by_default_on_loopback() -> None:
    settings = MonitorSettings()
    assert (settings.metrics_port, settings.metrics_host) == (9464, "127.0.0.1")


_closed = closed_by_server


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.settimeout(0.1)
    return sock


def test_silent_half_sent_and_trickling_clients_are_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exporter_module, "REQUEST_TIMEOUT_S", 1.0)
    exporter = Exporter(0).start()
    try:
        silent, half, trickle = (_connect(exporter.port) for _ in range(3))
        half.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        trickle.sendall(b"GET /metrics HTTP/1.1\r\n")

        def trickled_until_closed() -> bool:
            try:
                trickle.sendall(b"X-Slow: 1\r\n")
            except OSError:
                return True
            return _closed(trickle)

        wait_for(lambda: _closed(silent), 15, "silent client closed")
        wait_for(lambda: _closed(half), 15, "half-sent head closed")
        wait_for(trickled_until_closed, 15, "trickling client closed")
        for sock in (silent, half, trickle):
            sock.close()
        assert httpx.get(f"http://127.0.0.1:{exporter.port}/metrics").status_code == 200
    finally:
        exporter.stop()


def test_connections_past_the_cap_are_closed_and_scrapes_resume(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exporter_module, "REQUEST_TIMEOUT_S", 1.0)
    monkeypatch.setattr(exporter_module, "MAX_CONNECTIONS", 4)
    exporter = Exporter(0).start()
    idle = [_connect(exporter.port) for _ in range(20)]
    try:
        wait_for(lambda: sum(_closed(s) for s in idle) >= 16, 15, "connections past the cap")
        url = f"http://127.0.0.1:{exporter.port}/metrics"
        wait_for(
            lambda: httpx.get(url, timeout=5).status_code == 200,
            15,
            "scrape answered",
            ignore=(httpx.HTTPError,),
        )
    finally:
        for sock in idle:
            sock.close()
        exporter.stop()
