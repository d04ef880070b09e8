"""Fault 3: a keeper that is alive but does not answer (SIGSTOP) must not hang any command, and
no command may start a second keeper while it holds the home."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import psutil
import pytest

from tests.chaos.conftest import Project
from tests.support import wait_for


def keepers(project: Project) -> list[int]:
    """Every keeper process on this home (the daemonized ones carry --home HOME)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "keeper" in cmd and str(project.home) in cmd:
            found.append(proc.pid)
    return found


@pytest.fixture
def stopped_keeper(project: Project) -> Iterator[int]:
    project.instance("sleeper")
    project.gk("start", "-d", "--config", str(project.active / "sleeper.json"), check=True)
    pid = project.keeper_pid()
    project.env["GRIDKEEPER_ANSWER_TIMEOUT"] = "1"
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("status", "sleeper", "--json"),
        ("stop", "sleeper"),
        ("start", "-d", "sleeper"),
        ("list",),
        ("shutdown",),
    ],
)
def test_commands_fail_fast_and_start_no_second_keeper(
    project: Project, stopped_keeper: int, args: tuple[str, ...]
) -> None:
    proc = project.gk(*args, timeout=30)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert f"the keeper (pid {stopped_keeper}) does not answer" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert keepers(project) == [stopped_keeper]


def test_keeper_answers_again_after_sigcont(project: Project, stopped_keeper: int) -> None:
    assert project.gk("status", timeout=30).returncode == 1
    os.kill(stopped_keeper, signal.SIGCONT)
    row = wait_for(lambda: project.one("sleeper"), what="status after SIGCONT")
    assert row["state"] == "running"
    assert keepers(project) == [stopped_keeper]
