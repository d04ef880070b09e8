"""Hostile requests on the keeper's socket get a clean refusal, never a traceback; status never
claims a health for an instance without a process."""

from __future__ import annotations

import json
import socket

import pytest

from tests.chaos.conftest import Project
from tests.support import free_port, wait_for


def raw(project: Project, line: bytes) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(project.home / "keeper.sock"))
        sock.sendall(line + b"\n")
        reply: dict[str, object] = json.loads(sock.makefile("rb").readline())
    return reply


@pytest.mark.parametrize(
    "args",
    [
        b'{"limit": 1e308}',
        b'{"limit": -1}',
        b'{"limit": true}',
        b'{"limit": 2.5}',
        b'{"since_seq": 1e308}',
        b'{"since_seq": "x"}',
    ],
)
def test_events_refuses_numbers_sqlite_cannot_take(project: Project, args: bytes) -> None:
    project.gk("start", "-d", "--config", str(project.instance("idle")), check=True)
    reply = raw(project, b'{"op": "events", "args": ' + args + b"}")
    assert reply["ok"] is False
    assert reply["error"]["code"] == "bad_request"  # type: ignore[index]
    assert raw(project, b'{"op": "events", "args": {"limit": 5}}')["ok"] is True
    log = (project.home / "logs" / "keeper" / "keeper.log").read_text()
    assert "Traceback" not in log and "IntegrityError" not in log


def test_health_is_empty_without_a_process(project: Project) -> None:
    port = free_port()
    config = project.instance(
        "probed", "health", "--port", str(port), health_check={"type": "tcp", "port": port}
    )
    project.gk("start", "-d", "--config", str(config), check=True)
    wait_for(lambda: project.one("probed")["health"] == "healthy", what="a healthy probe")
    assert project.gk("stop", "probed").returncode == 0
    row = project.one("probed")
    assert row["state"] == "stopped" and row["health"] is None
