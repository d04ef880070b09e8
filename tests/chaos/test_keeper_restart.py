"""A dead keeper does not stay dead: the built-in monitor (re-parented when the keeper dies)
starts a new one, which re-adopts the bots, and says so (issue 11, "a dead keeper")."""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Any

import psutil

from gridkeeper.errors import KeeperUnavailable
from gridkeeper.keeper.client import KeeperClient, ensure_keeper
from gridkeeper.monitor.keeperwatch import dead_keeper
from tests.chaos.conftest import Project
from tests.support import wait_for

MONITOR = "gridkeeper-monitor"


def ping(project: Project) -> dict[str, Any] | None:
    """The keeper's identity, never starting one (a CLI command would race the monitor)."""
    try:
        return KeeperClient(project.home, timeout=2.0).ping()
    except KeeperUnavailable:
        return None


def keepers(project: Project) -> list[int]:
    """Live keeper processes on this home."""
    out = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmd = proc.info["cmdline"] or []
        if (
            "keeper" in cmd
            and str(project.home) in cmd
            and proc.info["status"] != psutil.STATUS_ZOMBIE
        ):
            out.append(proc.pid)
    return out


def test_the_monitor_restarts_a_dead_keeper(project: Project) -> None:
    project.env.pop("INVOCATION_ID", None)  # as if not under systemd (which restarts it itself)
    project.settings(monitor={"enabled": True, "interval": 1})
    config = project.instance("bot")
    project.gk("start", "-d", "--config", str(config), check=True)
    wait_for(lambda: project.one(MONITOR)["state"] == "running", what="the built-in monitor")
    bot = project.one("bot")["pid"]
    monitor = project.one(MONITOR)["pid"]
    old = project.keeper_pid()
    assert dead_keeper(project.home) is None  # alive: nothing to restart

    os.kill(old, signal.SIGKILL)
    info = wait_for(
        lambda: (i := ping(project)) and i["pid"] != old and i, what="a new keeper to answer"
    )
    assert info["started_by"] == f"monitor (pid {monitor})"
    # Only one keeper (the launcher's short-lived forks may still be on their way out).
    wait_for(lambda: keepers(project) == [info["pid"]], what="exactly one keeper")

    # The bots (and the monitor itself) were re-adopted, not restarted.
    rows = {r["name"]: r for r in project.status()}
    assert rows["bot"]["pid"] == bot and rows["bot"]["state"] == "running"
    assert rows[MONITOR]["pid"] == monitor

    # It says so: in the keeper's events and as an alert.
    events = KeeperClient(project.home).request("events", names=["keeper"], limit=10)
    started = [e for e in events if e["kind"] == "keeper_started"][-1]
    assert f"by the monitor (pid {monitor})" in started["message"]

    def restarted() -> list[dict[str, Any]]:
        rows = json.loads(project.gk("alerts", "--json", check=True).stdout)
        return [r for r in rows if r["rule"] == "keeper_restarted"]

    alert = wait_for(restarted, what="the keeper_restarted alert")[0]
    assert alert["summary"] == (
        f"the keeper (pid {old}) was gone; the monitor restarted it (pid {info['pid']})"
    )


def test_a_clean_shutdown_is_not_undone(project: Project) -> None:
    config = project.instance("bot")
    project.gk("start", "-d", "--config", str(config), check=True)
    project.gk("shutdown", check=True)
    wait_for(lambda: not keepers(project), what="the keeper to exit")
    assert dead_keeper(project.home) is None  # shut down on purpose: not "dead"


def test_racing_starters_leave_one_keeper(project: Project) -> None:
    """Monitors and CLI commands that all find the keeper dead start exactly one."""
    config = project.instance("bot")
    project.gk("start", "-d", "--config", str(config), check=True)
    bot = project.one("bot")["pid"]
    os.kill(project.keeper_pid(), signal.SIGKILL)
    wait_for(lambda: dead_keeper(project.home) is not None, what="the lock to be free")

    pids: list[object] = []

    def start(n: int) -> None:
        try:
            client = ensure_keeper(project.home, None, started_by=f"racer {n}")
            pids.append((client.ping() or {}).get("pid"))
        except Exception as exc:  # recorded and asserted below
            pids.append(exc)

    threads = [threading.Thread(target=start, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(set(pids)) == 1 and isinstance(pids[0], int), pids
    wait_for(lambda: keepers(project) == [pids[0]], what="exactly one keeper")
    assert project.one("bot")["pid"] == bot
