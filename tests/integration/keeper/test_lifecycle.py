"""The keeper starts, restarts, gives up on, and stops real processes."""

from __future__ import annotations

import os
import signal

import pytest

from tests.integration.keeper.conftest import Project, wait_for

pytestmark = pytest.mark.integration


def test_start_daemon_status_and_stop(project: Project) -> None:
    project.instance("sleeper")
    proc = project.gk("start", "-d")
    assert proc.returncode == 0, proc.stderr
    assert "sleeper running" in proc.stdout
    row = project.one("sleeper")
    assert row["state"] == "running"
    for key in (
        "name",
        "state",
        "pid",
        "started_at",
        "uptime_s",
        "restarts",
        "last_exit_code",
        "cpu_percent",
        "rss_mb",
        "health",
        "config",
        "log_dir",
    ):
        assert key in row
    assert os.getpgid(row["pid"]) == row["pid"]  # its own process group
    # Starting it again changes nothing and succeeds.
    again = project.gk("start", "-d", "--config", str(project.active / "sleeper.json"))
    assert again.returncode == 0
    assert "already running" in again.stdout
    assert project.one("sleeper")["pid"] == row["pid"]
    assert project.gk("stop", "sleeper").returncode == 0
    assert project.one("sleeper")["state"] == "stopped"
    assert project.gk("status", "sleeper").returncode == 3
    assert project.alive() == []


def test_crash_loop_backs_off_then_goes_fatal(project: Project) -> None:
    project.settings(max_restart_attempts=3, restart_delay=0.05, restart_delay_max=1)
    project.instance("crasher", "crash", "--after", "0.5", "--code", "3")
    project.gk("start", "-d")
    row = wait_for(lambda: [r for r in project.status() if r["state"] == "fatal"], what="fatal")[0]
    assert row["restarts"] == 3
    assert row["last_exit_code"] == 3
    keeper_log = project.gk("logs", "keeper", "-n", "200").stdout
    assert "crasher gave up: 3 restarts within" in keeper_log
    assert keeper_log.count("crasher restarts in") == 3
    # fatal is sticky: nothing restarts it behind the operator's back.
    assert project.alive("main") == []
    # An operator start clears it.
    proc = project.gk("start", "-d", "crasher")
    assert "crasher" in proc.stdout


def test_exit_zero_under_on_failure_is_exited(project: Project) -> None:
    project.instance("oneshot", "exit", "--after", "0.5", "--code", "0")
    project.gk("start", "-d")
    row = wait_for(lambda: [r for r in project.status() if r["state"] == "exited"])[0]
    assert row["restarts"] == 0
    assert row["last_exit_code"] == 0


def test_fatal_exit_code_is_not_restarted(project: Project) -> None:
    project.instance("badkey", "crash", "--after", "0.5", "--code", "78")
    project.gk("start", "-d")
    row = wait_for(lambda: [r for r in project.status() if r["state"] == "fatal"])[0]
    assert row["restarts"] == 0
    assert row["last_exit_code"] == 78


def test_failed_start_prints_reason_and_stderr(project: Project) -> None:
    project.settings(startsecs=2, max_restart_attempts=0)
    project.instance("early", "crash", "--after", "0.1", "--code", "2")
    proc = project.gk("start", "-d")
    assert proc.returncode == 1
    assert "about to fail" in proc.stderr
    assert "early" in proc.stdout


def test_kill_instance_is_replaced(project: Project) -> None:
    project.instance("victim")
    project.gk("start", "-d", check=True)
    first = project.one("victim")["pid"]
    os.kill(first, signal.SIGKILL)
    row = wait_for(
        lambda: [r for r in project.status() if r["state"] == "running" and r["pid"] != first],
        what="replacement",
    )[0]
    assert row["restarts"] == 1
    assert "SIGKILL" in row["last_exit"]


def test_keeper_killed_instance_survives_and_is_readopted(project: Project) -> None:
    project.instance("survivor")
    project.gk("start", "-d", check=True)
    pid = project.one("survivor")["pid"]
    keeper = project.keeper_pid()
    os.kill(keeper, signal.SIGKILL)
    wait_for(lambda: not _exists(keeper), what="keeper death")
    assert _exists(pid)
    row = project.one("survivor")  # brings a keeper back
    assert project.keeper_pid() != keeper
    assert row["pid"] == pid and row["state"] == "running"
    assert len(project.alive("main")) == 1
    # The adopted process is still supervised: a crash is noticed and replaced.
    os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: [r for r in project.status() if r["state"] == "running" and r["pid"] != pid],
        what="replacement of the adopted process",
    )


def test_racing_starts_start_once(project: Project) -> None:
    import subprocess
    import sys

    project.instance("once")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gridkeeper", "start", "-d"],
            cwd=project.root,
            env=project.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    for p in procs:
        p.communicate(timeout=60)
        assert p.returncode == 0
    assert len(project.alive("main")) == 1
    assert project.one("once")["restarts"] == 0


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_depends_on_starts_the_dependency_first(project: Project) -> None:
    project.settings(startsecs=1)
    project.instance("base")
    project.instance("dependent", depends_on=["base"])
    proc = project.gk("start", "-d", "--config", str(project.active / "dependent.json"))
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in project.status()}
    assert rows["base"]["state"] == rows["dependent"]["state"] == "running"
    # The dependent was spawned only once its dependency had been up for startsecs.
    assert rows["dependent"]["started_at"] >= rows["base"]["started_at"] + 1.0


def test_failed_dependency_blocks_the_dependent(project: Project) -> None:
    project.settings(max_restart_attempts=0, startsecs=0.5)
    project.instance("broken", "crash", "--after", "0.1", "--code", "4")
    project.instance("waiter", depends_on=["broken"])
    proc = project.gk("start", "-d")
    assert proc.returncode == 1
    assert "waiter: not started: dependency 'broken' did not start" in proc.stdout
    assert project.alive("main") == []


def test_unknown_dependency_is_a_config_error(project: Project) -> None:
    project.instance("orphan", depends_on=["nobody"])
    proc = project.gk("start", "-d")
    assert proc.returncode == 2
    assert "daemon_config.depends_on: depends on 'nobody'" in proc.stderr
