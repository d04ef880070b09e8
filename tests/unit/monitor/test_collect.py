"""Host and per-instance sampling with psutil, on real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridkeeper.monitor.collect import HostSampler, ProcessSampler, mountpoint

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "GRIDKEEPER_INSTANCE": "bot_a"}
    proc = subprocess.Popen(SLEEPER, env=env)
    yield proc
    proc.kill()
    proc.wait()


def test_host_sample_has_node_style_metrics(tmp_path: Path) -> None:
    """One host sample covers CPU, load, memory, swap, disk of the given paths and network."""
    names = {s.name for s in HostSampler([tmp_path]).sample()}
    for expected in (
        "gridkeeper_host_cpu_percent",
        "node_load1",
        "node_memory_MemAvailable_bytes",
        "node_memory_SwapTotal_bytes",
        "node_filesystem_avail_bytes",
        "gridkeeper_filesystem_used_percent",
        "node_network_receive_bytes_total",
    ):
        assert expected in names


def test_mountpoint_of_missing_path_is_its_nearest_existing_mount(tmp_path: Path) -> None:
    """A log dir that does not exist yet still maps to a filesystem."""
    assert mountpoint(tmp_path / "not" / "yet") == mountpoint(tmp_path)


def test_instance_samples_for_our_process(child: subprocess.Popen[bytes]) -> None:
    """A running instance reports up, restarts, RSS, threads and open fds of its own pid."""
    status = [{"name": "bot_a", "state": "running", "pid": child.pid, "restarts": 2}]
    samples = {s.name: s for s in ProcessSampler().sample(status)}
    assert samples["gridkeeper_instance_up"].value == 1
    assert samples["gridkeeper_instance_restarts_total"].value == 2
    assert samples["gridkeeper_instance_resident_memory_bytes"].value > 0
    assert samples["gridkeeper_instance_threads"].value >= 1
    assert samples["gridkeeper_instance_open_fds"].value >= 1
    assert samples["gridkeeper_instance_up"].label("name") == "bot_a"


def test_process_tagged_for_another_instance_is_not_sampled(
    child: subprocess.Popen[bytes],
) -> None:
    """A pid whose GRIDKEEPER_INSTANCE names someone else is not ours: no process metrics."""
    status = [{"name": "bot_b", "state": "running", "pid": child.pid, "restarts": 0}]
    names = {s.name for s in ProcessSampler().sample(status)}
    assert "gridkeeper_instance_resident_memory_bytes" not in names
    assert "gridkeeper_instance_up" in names


def test_stopped_instance_is_down_without_process_metrics() -> None:
    """A stopped instance: up 0, no pid sampled."""
    status = [{"name": "c", "state": "stopped", "pid": None, "restarts": 0}]
    samples = ProcessSampler().sample(status)
    assert [(s.name, s.value) for s in samples] == [
        ("gridkeeper_instance_up", 0.0),
        ("gridkeeper_instance_restarts_total", 0.0),
    ]
