"""A real keeper on a temp home, driven through the real CLI in subprocesses."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests import support

PROG = Path(__file__).with_name("prog.py")

FAST = {
    "restart_delay": 0.05,
    "restart_delay_max": 0.2,
    "restart_jitter": 0,
    "startsecs": 0.3,
    "stop_timeout": 2,
    "health_check_interval": 1,
    "log_retention_days": 1,
    "log_cleanup_interval": 3600,
    "monitor": {"enabled": False},
}


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    return support.wait_for(predicate, timeout, what)


@dataclass
class Project:
    root: Path
    home: Path
    pids: Path
    # What idle children block on (prog.py --lifeline, `lifeline.python()` in a command).
    lifeline: support.Lifeline
    env: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> Path:
        return self.root / "config" / "active"

    def settings(self, **overrides: Any) -> Path:
        path = self.root / "config" / "daemon_config.json"
        path.write_text(json.dumps({**FAST, **overrides}))
        return path

    def instance(self, name: str, mode: str = "sleep", *extra: str, **daemon: Any) -> Path:
        command = ["{python}", str(PROG), "--mode", mode, "--pids", str(self.pids)]
        command += ["--lifeline", str(self.lifeline.path), *extra]
        data = {"metadata": {"instance_id": name}, "daemon_config": {"command": command, **daemon}}
        path = self.active / f"{name}.json"
        path.write_text(json.dumps(data))
        return path

    def gk(
        self, *args: str, timeout: float = 60, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "gridkeeper", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"gridkeeper {args} exited {proc.returncode}: {proc.stderr}")
        return proc

    def status(self, name: str | None = None) -> list[dict[str, Any]]:
        args = ["status", "--json"] + ([name] if name else [])
        proc = self.gk(*args)
        assert proc.returncode in (0, 3), proc.stderr
        rows: list[dict[str, Any]] = json.loads(proc.stdout)
        return rows

    def one(self, name: str) -> dict[str, Any]:
        return self.status(name)[0]

    def one_saved_pid(self, name: str) -> int:
        """The pid the state file records (readable with no keeper running)."""
        import sqlite3

        with sqlite3.connect(self.home / "state.db") as db:
            row = db.execute("SELECT pid FROM instances WHERE name=?", (name,)).fetchone()
        return int(row[0])

    def keeper_pid(self) -> int:
        return int((self.home / "keeper.pid").read_text().strip())

    def alive(self, role: str | None = None) -> list[int]:
        """Processes started by prog.py (by role) that are still alive (zombies excluded)."""
        out = []
        for entry in self.pids.iterdir():
            if role is not None and not entry.name.startswith(role + "."):
                continue
            pid = int(entry.name.rsplit(".", 1)[1])
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    out.append(pid)
            except psutil.Error:
                continue
        return out


def kill_everything(home: Path) -> None:
    """Leave no process behind, whatever the test did."""
    with contextlib.suppress(Exception):
        pid = int((home / "keeper.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("GRIDKEEPER_HOME") == str(home):
                proc.kill()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    root = tmp_path / "proj"
    (root / "config" / "active").mkdir(parents=True)
    home = tmp_path / "home"
    pids = tmp_path / "pids"
    pids.mkdir()
    env = dict(os.environ)
    env["GRIDKEEPER_HOME"] = str(home)
    env.pop("GRIDKEEPER_SETTINGS", None)
    proj = Project(root, home, pids, support.Lifeline(tmp_path / "lifeline"), env)
    proj.settings()
    yield proj
    with contextlib.suppress(Exception):
        proj.gk("shutdown", timeout=30)
    kill_everything(home)
    # Last, as a safety net: the keeper stops its children; a stray one reads EOF and ends.
    proj.lifeline.close()
