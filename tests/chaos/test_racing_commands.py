"""Fault 2: the last operator command wins, and each reply tells the truth about the end
state. Also: a health-triggered restart shows `stopping` while it kills."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from gridkeeper.keeper.client import KeeperClient
from tests.chaos.conftest import Project
from tests.support import Lifeline, free_port, wait_for

SLOW = Path(__file__).with_name("slow_term.py")


def slow_instance(
    project: Project, name: str, folder: Path, **daemon: object
) -> tuple[Path, Lifeline]:
    """The config of a slow_term.py instance, and the lifeline whose close releases it."""
    folder.mkdir(exist_ok=True)
    release = Lifeline(folder / "release")
    command = ["{python}", str(SLOW), "--dir", str(folder)]
    if "port" in daemon:
        command += ["--port", str(daemon.pop("port"))]
    data = {
        "metadata": {"instance_id": name},
        "daemon_config": {"command": command, "stop_timeout": 30, **daemon},
    }
    path = project.active / f"{name}.json"
    path.write_text(json.dumps(data))
    return path, release


def gk_async(project: Project, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gridkeeper", *args],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def row(project: Project, name: str) -> dict[str, Any]:
    """The instance's status, asked in-process (polling through the CLI costs a process each)."""
    rows: list[dict[str, Any]] = KeeperClient(project.home).request("status", names=[name])
    return rows[0]


def terms(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("term.*"))


def test_a_stop_during_a_restart_wins(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "slow"
    config, release = slow_instance(project, "slow", folder)
    project.gk("start", "-d", "--config", str(config), check=True)
    first = row(project, "slow")["pid"]

    restart = gk_async(project, "restart", "slow")
    wait_for(lambda: row(project, "slow")["state"] == "stopping", what="the restart's kill")
    wait_for(lambda: len(terms(folder)) == 1, what="the restart's SIGTERM")
    stop = gk_async(project, "stop", "slow")
    # A stop always signals, even while a restart's kill is under way.
    wait_for(lambda: len(terms(folder)) == 2, what="the stop's SIGTERM")
    assert row(project, "slow")["desired"] == "stopped"
    release.close()

    out, err = stop.communicate(timeout=30)
    assert stop.returncode == 0, err
    assert "slow stopped" in out
    out, err = restart.communicate(timeout=30)
    assert "stopped (a later stop overrode this)" in out, (out, err)
    assert restart.returncode == 1

    final = row(project, "slow")
    assert final["state"] == "stopped" and final["pid"] is None
    assert [p.name for p in folder.glob("pid.*")] == [f"pid.{first}"]  # nothing new started


def test_a_start_during_a_stop_wins(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "slow"
    config, release = slow_instance(project, "slow", folder)
    project.gk("start", "-d", "--config", str(config), check=True)
    stop = gk_async(project, "stop", "slow")
    wait_for(lambda: len(terms(folder)) == 1, what="the stop's SIGTERM")
    start = gk_async(project, "start", "-d", "slow")
    wait_for(
        lambda: row(project, "slow")["desired"] == "running", what="the start to reach the keeper"
    )
    assert row(project, "slow")["state"] == "stopping"
    release.close()
    out, err = start.communicate(timeout=30)
    assert start.returncode == 0, (out, err)
    assert "running" in out
    out, err = stop.communicate(timeout=30)
    assert "a later start won" in out, (out, err)
    final = row(project, "slow")
    assert final["state"] == "running"
    assert len(list(folder.glob("pid.*"))) == 2


def test_a_health_restart_shows_stopping_during_the_kill(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "slow"
    port = free_port()
    config, release = slow_instance(
        project,
        "probed",
        folder,
        port=port,
        health_check={"type": "http", "url": f"http://127.0.0.1:{port}/health", "failures": 1},
        health_check_interval=1,
    )
    project.gk("start", "-d", "--config", str(config), check=True)
    first = row(project, "probed")["pid"]
    (folder / "sick").touch()
    wait_for(lambda: terms(folder), what="the health restart's SIGTERM")
    probed = row(project, "probed")
    assert probed["state"] == "stopping" and probed["pid"] == first
    (folder / "sick").unlink()
    release.close()
    again = wait_for(
        lambda: (r := row(project, "probed"))["state"] == "running" and r["pid"] != first and r,
        what="the restarted instance",
    )
    assert again["last_exit"] == "restarted: health probe failing"
