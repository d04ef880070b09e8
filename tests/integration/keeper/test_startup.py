"""The keeper run exactly as `gridkeeper startup`'s unit runs it: ExecStart, its environment and
working directory, a real $NOTIFY_SOCKET; READY=1, a clean stop on SIGTERM, and after that
"reboot" the instances that were running come back while a stopped one stays stopped."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridkeeper.keeper.unit import parse

from .conftest import Project, wait_for

pytestmark = pytest.mark.integration


class NotifySocket:
    """What systemd listens on for a Type=notify service: a datagram Unix socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []

    def received(self) -> list[str]:
        try:
            while True:
                self.messages.append(self.sock.recv(4096).decode())
        except TimeoutError:
            pass
        return self.messages

    def has(self, line: str) -> bool:
        return any(line in m.splitlines() for m in self.received())

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def _unit_process(
    project: Project, unit: dict[str, dict[str, list[str]]], notify: Path
) -> subprocess.Popen[bytes]:
    service = unit["Service"]
    env = dict(project.env)
    for assignment in service.get("Environment", []):
        key, value = shlex.split(assignment)[0].split("=", 1)
        env[key] = value
    env["NOTIFY_SOCKET"] = str(notify)
    return subprocess.Popen(
        shlex.split(service["ExecStart"][0]),
        cwd=service["WorkingDirectory"][0],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # the keeper logs to <home>/logs/keeper
    )


def test_unit_execstart_notifies_ready_stops_cleanly_and_resumes(
    project: Project, notify_socket: NotifySocket
) -> None:
    project.instance("keep", "sleep")
    project.instance("idle", "sleep")
    printed = project.gk(
        "startup",
        "--print",
        "--user",
        "--home",
        str(project.home),
        "--settings",
        str(project.root / "config" / "daemon_config.json"),
        check=True,
    )
    unit = parse(printed.stdout)
    assert unit["Service"]["Type"] == ["notify"]
    assert int(unit["Service"]["TimeoutStopSec"][0]) > 2  # FAST stop_timeout is 2

    keeper = _unit_process(project, unit, notify_socket.path)
    try:
        wait_for(lambda: notify_socket.has("READY=1"), what="READY=1")
        assert any(f"MAINPID={keeper.pid}" in m for m in notify_socket.messages)
        project.gk("start", "-d", check=True)  # every config/active/*.json
        project.gk("stop", "idle", check=True)
        pid = project.one("keep")["pid"]
        keeper.send_signal(signal.SIGTERM)
        assert keeper.wait(30) == 0
        assert notify_socket.has("STOPPING=1")
        assert not (project.home / "keeper.sock").exists()
        wait_for(lambda: not _alive(pid), what="the instance stopped with the keeper")
    finally:
        if keeper.poll() is None:
            keeper.kill()
            keeper.wait()

    # The "reboot": a new keeper started the same way.
    again = _unit_process(project, unit, notify_socket.path)
    try:
        wait_for(
            lambda: sum("READY=1" in m for m in notify_socket.received()) == 2,
            what="READY=1 again",
        )
        keep = wait_for(
            lambda: (row := project.one("keep"))["state"] == "running" and row, what="keep resumed"
        )
        assert keep["pid"] != pid and keep["desired"] == "running"
        idle = project.one("idle")
        assert idle["state"] == "stopped" and idle["desired"] == "stopped"
        # An operator's shutdown (not the system's SIGTERM) leaves everything stopped.
        project.gk("shutdown", check=True)
        assert again.wait(30) == 0
    finally:
        if again.poll() is None:
            again.kill()
            again.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_healthcheck_ping_tells_a_live_keeper_from_none(project: Project) -> None:
    """The image's HEALTHCHECK: 1 with no keeper (and none is started), 0 while one runs."""
    ping = [sys.executable, "-m", "gridkeeper.keeper.ping"]
    down = subprocess.run(ping, env=project.env, capture_output=True, text=True, check=False)
    assert down.returncode == 1 and "unhealthy" in down.stderr
    assert not (project.home / "keeper.sock").exists()  # the probe did not start one
    project.instance("one", "sleep")
    project.gk("start", "-d", check=True)
    up = subprocess.run(ping, env=project.env, capture_output=True, text=True, check=False)
    assert up.returncode == 0, up.stderr
