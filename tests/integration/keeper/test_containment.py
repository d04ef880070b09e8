"""Nothing an instance leaves behind survives it: on stop, on crash, after many crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.integration.keeper.conftest import Project, wait_for
from tests.support import end_child

pytestmark = pytest.mark.integration


def test_stop_kills_a_grandchild_that_ignores_sigterm(project: Project) -> None:
    project.settings(stop_timeout=1)
    project.instance("stubborn", "stubborn")
    project.gk("start", "-d", check=True)
    wait_for(lambda: project.alive("stubborn-grandchild"), what="grandchild")
    proc = project.gk("stop", "stubborn")
    assert proc.returncode == 0
    assert "killed after 1s stop timeout" in proc.stdout
    assert project.alive() == []


def test_crash_loop_with_helpers_leaves_no_survivor(project: Project) -> None:
    project.settings(max_restart_attempts=20, restart_delay=0, restart_delay_max=0, startsecs=0.1)
    project.instance("leaky", "helpers-crash", "--after", "0.3")
    project.gk("start", "-d")
    wait_for(lambda: project.one("leaky")["restarts"] >= 10, timeout=60, what="10 crash cycles")
    # At any moment at most one generation lives: one main, one of each helper.
    assert len(project.alive("main")) <= 1
    assert len(project.alive("group-helper")) <= 1
    assert len(project.alive("setsid-helper")) <= 1
    assert len(list(project.pids.glob("setsid-helper.*"))) >= 10  # the helpers really ran
    project.gk("stop", "leaky", check=True)
    assert project.alive() == []


def test_stop_kills_setsid_escapee(project: Project) -> None:
    project.instance("escaper", "helpers")
    project.gk("start", "-d", check=True)
    wait_for(lambda: project.alive("setsid-helper") and project.alive("group-helper"))
    escapee = project.alive("setsid-helper")[0]
    assert os.getpgid(escapee) != project.one("escaper")["pid"]  # really left the group
    project.gk("stop", "escaper", check=True)
    assert project.alive() == []


def test_keeper_and_instances_survive_the_session_hangup(project: Project) -> None:
    """As an SSH logout does: the session leader's terminal hangs up, SIGHUP to its group."""
    project.instance("nohup-free")
    # The login shell stays up in `read` on a pipe from the test (as on its terminal) until the
    # hangup; should the test fail first, closing the pipe ends it.
    # SIGHUP back to its default first: a test run started under `nohup` (or any parent that
    # ignores SIGHUP) would hand the ignore to the shell and the keeper, and an ignored signal
    # proves nothing (a shell cannot reset it itself; exec keeps a default disposition).
    login = f"{sys.executable} -m gridkeeper start -d; read line"
    shell = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, signal, sys; signal.signal(signal.SIGHUP, signal.SIG_DFL); "
            "os.execv('/bin/sh', ['/bin/sh', '-c', sys.argv[1]])",
            login,
        ],
        cwd=project.root,
        env=project.env,
        start_new_session=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: project.alive("main"), what="instance start")
    wait_for(lambda: (project.home / "keeper.sock").exists())
    before = wait_for(
        lambda: [r for r in project.status() if r["state"] == "running"], what="running"
    )[0]
    keeper = project.keeper_pid()
    os.killpg(shell.pid, signal.SIGHUP)
    shell.wait(timeout=10)
    end_child(shell)  # closes the pipe
    assert shell.returncode == -signal.SIGHUP
    row = project.one("nohup-free")
    assert row["state"] == "running" and row["pid"] == before["pid"]
    assert project.keeper_pid() == keeper
    os.kill(keeper, 0)


def test_memory_limit_restarts(project: Project) -> None:
    project.settings(memory_limit_mb=60, limit_samples=2, health_check_interval=1)
    project.instance("hog", "memory", "--mb", "120")
    project.gk("start", "-d", check=True)
    row = wait_for(
        lambda: [r for r in project.status() if r["restarts"] >= 1 and r["last_exit"]],
        what="memory restart",
    )[0]
    assert row["last_exit"] == "restarted: memory limit exceeded"
    assert "memory_limit" in project.gk("logs", "keeper", "-n", "100").stdout
