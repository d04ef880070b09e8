"""Health probes restart a sick instance and check only their own instance."""

from __future__ import annotations

import pytest

from tests.integration.keeper.conftest import Project, wait_for
from tests.support import free_port

pytestmark = pytest.mark.integration


def test_failing_http_probe_restarts_only_that_instance(project: Project) -> None:
    sick = project.root / "sick"
    port_a, port_b = free_port(), free_port()
    project.instance(
        "api-a",
        "health",
        "--port",
        str(port_a),
        "--sick-file",
        str(sick),
        web_port=port_a,
        health_check={"type": "http", "failures": 2, "timeout_s": 1},
    )
    project.instance("api-b", "health", "--port", str(port_b), web_port=port_b)
    project.gk("start", "-d", check=True)
    rows = {r["name"]: r for r in project.status()}
    assert rows["api-a"]["health"] == "healthy"
    first_b = rows["api-b"]["pid"]
    sick.touch()
    row = wait_for(
        lambda: [r for r in project.status("api-a") if r["restarts"] >= 1], what="health restart"
    )[0]
    assert row["last_exit"] == "restarted: health probe failing"
    assert project.one("api-b")["pid"] == first_b
    assert project.one("api-b")["restarts"] == 0
    sick.unlink()
    wait_for(lambda: project.one("api-a")["health"] == "healthy", what="recovery")


def test_tcp_probe(project: Project) -> None:
    port = free_port()
    project.instance(
        "tcp", "health", "--port", str(port), health_check={"type": "tcp", "port": port}
    )
    proc = project.gk("start", "-d")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert project.one("tcp")["health"] == "healthy"


def test_probe_that_never_passes_fails_the_start(project: Project) -> None:
    port = free_port()
    project.settings(max_restart_attempts=0)
    project.instance(
        "mute",
        "sleep",
        health_check={"type": "tcp", "port": port, "start_grace_s": 1, "timeout_s": 0.2},
    )
    proc = project.gk("start", "-d")
    assert proc.returncode == 1
    assert project.one("mute")["state"] == "fatal"
