"""Regressions from review: keeper restarts and races must never yield two copies of a bot,
revive what the operator left fatal, or lose a stop."""

from __future__ import annotations

import json
import os
import signal
import socket

import pytest

from tests.integration.keeper.conftest import Project, wait_for

pytestmark = pytest.mark.integration


def _kill_keeper(project: Project) -> None:
    keeper = project.keeper_pid()
    os.kill(keeper, signal.SIGKILL)
    wait_for(lambda: not _exists(keeper), what="keeper death")


def _request(project: Project, op: str, **args: object) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(project.home / "keeper.sock"))
        sock.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
        reply: dict[str, object] = json.loads(sock.makefile().readline())
    return reply


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_restart_racing_a_crash_ends_with_one_running_copy(project: Project) -> None:
    project.settings(max_restart_attempts=3, restart_delay=0.05, startsecs=0.2)
    project.instance("racer", "helpers")
    project.gk("start", "-d", check=True)
    for _ in range(3):
        pid = project.one("racer")["pid"]
        os.kill(pid, signal.SIGKILL)
        # Straight onto the socket, so the restart lands while the crash is being cleaned up.
        reply = _request(project, "restart", names=["racer"])
        assert reply["ok"], reply
        row = wait_for(
            lambda: [r for r in project.status("racer") if r["state"] == "running"],
            what="running after restart",
        )[0]
        assert row["pid"] != pid
    assert project.one("racer")["state"] == "running"
    assert len(project.alive("main")) == 1
    wait_for(lambda: len(project.alive("setsid-helper")) == 1, what="one helper generation")


def test_live_bot_is_adopted_even_if_its_config_vanished(project: Project) -> None:
    cfg = project.instance("vanish")
    project.gk("start", "-d", check=True)
    pid = project.one("vanish")["pid"]
    _kill_keeper(project)
    saved = cfg.read_text()
    cfg.unlink()
    row = project.one("vanish")
    assert row["pid"] == pid and row["state"] == "running"
    cfg.write_text(saved)
    proc = project.gk("start", "-d")
    assert proc.returncode == 0
    assert project.alive("main") == [pid]


def test_leftovers_of_a_death_while_no_keeper_watched_are_killed(project: Project) -> None:
    project.instance("orphaned", "helpers")
    project.gk("start", "-d", check=True)
    wait_for(lambda: project.alive("setsid-helper") and project.alive("group-helper"))
    old = set(project.alive())
    _kill_keeper(project)
    os.kill(project.one_saved_pid("orphaned"), signal.SIGKILL)
    row = wait_for(
        lambda: [r for r in project.status("orphaned") if r["state"] == "running"],
        what="restart by the new keeper",
    )[0]
    assert row["pid"] not in old
    assert row["restarts"] == 1  # the death nobody saw still counts, and is reported
    assert "ended while the keeper was down" in project.gk("logs", "keeper", "-n", "200").stdout
    wait_for(lambda: not (set(project.alive()) & old), what="old generation gone")
    project.gk("stop", "orphaned", check=True)
    assert project.alive() == []


def test_fatal_stays_fatal_across_a_keeper_restart(project: Project) -> None:
    project.instance("doomed", "crash", "--after", "0.5", "--code", "78")
    project.gk("start", "-d")
    wait_for(lambda: project.one("doomed")["state"] == "fatal", what="fatal")
    _kill_keeper(project)
    row = project.one("doomed")
    assert row["state"] == "fatal"
    assert project.alive("main") == []
    # An operator's stop acknowledges it: stopped, and the event ends the monitor's alert.
    assert project.gk("stop", "doomed").returncode == 0
    assert project.one("doomed")["state"] == "stopped"


def test_stop_after_a_keeper_crash_stops_the_bot(project: Project) -> None:
    project.instance("abandoned")
    project.gk("start", "-d", check=True)
    _kill_keeper(project)
    proc = project.gk("stop", "abandoned")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert project.alive() == []


def test_output_without_newlines_is_cut_not_hoarded(project: Project) -> None:
    # The bot writes 3 MB without a newline and stays up on the test's lifeline: the keeper
    # must cut the output while the writer is still alive.
    write = "import sys\nsys.stdout.write('x'*3_000_000)\nsys.stdout.flush()\n"
    command = ["{python}", "-c", write + project.lifeline.python()]
    path = project.active / "chatty.json"
    path.write_text(json.dumps({"daemon_config": {"command": command}}))
    project.gk("start", "-d", check=True)
    log = project.home / "logs" / "chatty" / "chatty.log"
    # Every full 64 KiB piece is written at once; the tail waits for a newline or the end.
    wait_for(lambda: log.exists() and log.stat().st_size >= 45 * 65536, what="output logged")
    assert project.one("chatty")["state"] == "running"


def test_bad_request_shapes_are_refused(project: Project) -> None:
    project.instance("x")
    project.gk("start", "-d", check=True)
    reply = _request(project, "stop", names="x")
    assert reply["ok"] is False
    assert reply["error"] == {"code": "bad_request", "message": "names must be a list of strings"}
    assert project.one("x")["state"] == "running"
