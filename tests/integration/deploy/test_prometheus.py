"""deploy/prometheus: the shipped scrape config, run by a real Prometheus against two hosts'
monitors on loopback, finds both hosts' instances."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from gridkeeper.config.monitor import MonitorSettings, NotificationSettings
from gridkeeper.monitor.service import MonitorService
from tests.components import binary, prometheus
from tests.support import free_port, wait_for

pytestmark = pytest.mark.integration
DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"


@contextmanager
def monitor(home: Path, bot: str) -> Iterator[int]:
    """A monitor (what each host's keeper runs) exporting one running bot; yields its port."""
    home.mkdir(parents=True)
    port = free_port()
    statuses = [{"name": bot, "state": "running", "pid": None, "restarts": 0}]
    service = MonitorService(
        home,
        MonitorSettings(interval=0.2, metrics_port=port),
        NotificationSettings(),
        events=[],
        status=lambda: statuses,
    )
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(10)


def _query(url: str, promql: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5)
    resp.raise_for_status()
    return list(resp.json()["data"]["result"])


def test_shipped_config_is_valid() -> None:
    proc = subprocess.run(
        [binary("promtool"), "check", "config", str(DEPLOY / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_prometheus_scrapes_both_hosts(tmp_path: Path) -> None:
    work = tmp_path / "prom"
    (work / "targets").mkdir(parents=True)
    config = work / "prometheus.yml"
    # The shipped file, with a fast scrape for the test and no Alertmanager to reach.
    text = (DEPLOY / "prometheus.yml").read_text()
    text = text.replace("scrape_interval: 15s", "scrape_interval: 1s")
    text = text.replace("refresh_interval: 30s", "refresh_interval: 1s")
    config.write_text(text)
    shutil.copy(DEPLOY / "targets" / "hosts.yml", work / "targets" / "example.yml.off")
    with monitor(tmp_path / "a", "bot-a") as port_a, monitor(tmp_path / "b", "bot-b") as port_b:
        # One host named by a label, one by its address: both ways the config supports.
        (work / "targets" / "hosts.json").write_text(
            json.dumps(
                [
                    {"targets": [f"127.0.0.1:{port_a}"], "labels": {"host": "vps-a"}},
                    {"targets": [f"localhost:{port_b}"]},
                ]
            )
        )
        with prometheus(config, work) as prom:
            rows = wait_for(
                lambda: len(r := _query(prom.url, "gridkeeper_instance_up")) == 2 and r,
                timeout=60,
                what="both hosts' instances in Prometheus",
                ignore=(httpx.HTTPError,),
            )
    series = {(r["metric"]["host"], r["metric"]["name"]): r["value"][1] for r in rows}
    assert series == {("vps-a", "bot-a"): "1", ("localhost", "bot-b"): "1"}
    assert all(r["metric"]["job"] == "gridkeeper" for r in rows)
