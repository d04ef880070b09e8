"""Prometheus text format of the exporter, and the endpoint serving it."""

from __future__ import annotations

import httpx

from gridkeeper.monitor.exporter import Exporter, render
from gridkeeper.monitor.samples import Sample, labels


def test_render_text_format() -> None:
    """HELP/TYPE once per metric, labels quoted and escaped, integers without a fraction."""
    text = render(
        [
            Sample("gridkeeper_instance_up", 1, labels(name="b")),
            Sample("gridkeeper_instance_up", 0, labels(name='a"x\\')),
            Sample("node_load1", 0.25),
            Sample("gridkeeper_instance_restarts_total", 3, labels(name="b")),
        ]
    )
    lines = text.splitlines()
    assert lines[:4] == [
        "# HELP gridkeeper_instance_restarts_total Restarts of the instance by the keeper.",
        "# TYPE gridkeeper_instance_restarts_total counter",
        'gridkeeper_instance_restarts_total{name="b"} 3',
        "# HELP gridkeeper_instance_up 1 when the instance is running.",
    ]
    assert "# TYPE gridkeeper_instance_up gauge" in lines
    assert 'gridkeeper_instance_up{name="a\\"x\\\\"} 0' in lines
    assert 'gridkeeper_instance_up{name="b"} 1' in lines
    assert "node_load1 0.25" in lines
    assert text.endswith("\n")
    assert sum(1 for line in lines if line.startswith("# TYPE gridkeeper_instance_up ")) == 1


def test_endpoint_serves_latest_snapshot_on_loopback() -> None:
    """GET /metrics returns the last update; other paths are 404."""
    exporter = Exporter(0).start()
    try:
        exporter.update([Sample("gridkeeper_keeper_up", 1)])
        base = f"http://127.0.0.1:{exporter.port}"
        resp = httpx.get(base + "/metrics")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "gridkeeper_keeper_up 1" in resp.text
        exporter.update([Sample("gridkeeper_keeper_up", 0)])
        assert "gridkeeper_keeper_up 0" in httpx.get(base + "/metrics").text
        assert httpx.get(base + "/other").status_code == 404
    finally:
        exporter.stop()
