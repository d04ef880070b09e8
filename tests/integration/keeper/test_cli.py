"""The CLI's contract: exit codes, JSON, reload, seed entry points, no secrets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.keeper.conftest import PROG, Project, wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


def test_bad_config_starts_nothing_and_exits_2(project: Project) -> None:
    project.instance("good")
    (project.active / "bad.json").write_text(
        '{"daemon_config": {"command": ["x"], "startsecs": -1}}'
    )
    proc = project.gk("start", "-d")
    assert proc.returncode == 2
    assert "bad.json" in proc.stderr and "daemon_config.startsecs" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert project.alive() == []


def test_status_of_unknown_instance_exits_3(project: Project) -> None:
    project.instance("x")
    project.gk("start", "-d", check=True)
    proc = project.gk("status", "nope")
    assert proc.returncode == 3


def test_secrets_never_appear_in_status_or_logs(project: Project) -> None:
    secret = "S3CRET-VALUE-123456"
    path = project.instance("secretive", "print", "--lines", "1")
    data = json.loads(path.read_text())
    data["exchange_config"] = {"api_key": "key", "api_secret": "${BOT_SECRET}"}
    # The bot prints its line and then stays up on the test's lifeline; the test waits for the
    # line in the log.
    data["daemon_config"]["command"] = [
        "{python}",
        "-c",
        f"print('my secret is {secret}', flush=True)\n{project.lifeline.python()}",
    ]
    path.write_text(json.dumps(data))
    project.env["BOT_SECRET"] = secret
    project.gk("start", "-d", check=True)
    listing = project.gk("list", "--json").stdout + project.gk("status").stdout
    assert secret not in listing
    log_dir = project.home / "logs" / "secretive"
    wait_for(lambda: "my secret is" in (log_dir / "secretive.log").read_text(), what="log line")
    for file in log_dir.iterdir():
        assert secret not in file.read_text()
    assert "my secret is ***" in (log_dir / "secretive.log").read_text()


def test_reload_restarts_only_changed(project: Project) -> None:
    project.instance("same")
    changed = project.instance("changed")
    project.gk("start", "-d", check=True)
    before = {r["name"]: r["pid"] for r in project.status()}
    data = json.loads(changed.read_text())
    data["daemon_config"]["environment"] = {"NEW": "1"}
    changed.write_text(json.dumps(data))
    project.instance("added")
    dry = project.gk("reload", "--dry-run")
    assert "changed    changed" in dry.stdout
    assert {r["name"]: r["pid"] for r in project.status()} == before
    proc = project.gk("reload")
    assert proc.returncode == 0, proc.stderr
    assert "added      added" in proc.stdout
    rows = {r["name"]: r for r in project.status()}
    assert rows["same"]["pid"] == before["same"]
    assert rows["changed"]["pid"] != before["changed"]
    wait_for(lambda: project.one("added")["state"] == "running")


def test_seed_entry_point(project: Project) -> None:
    cfg = project.instance("seedbot")
    run = [sys.executable, str(REPO / "core" / "daemon_manager.py")]
    opts = {"cwd": project.root, "env": project.env, "capture_output": True, "text": True}
    proc = subprocess.run([*run, "start", "--config", str(cfg), "--daemon"], **opts, timeout=60)
    assert proc.returncode == 0, proc.stderr
    status = subprocess.run([*run, "status", "--config", str(cfg)], **opts, timeout=60)
    assert status.returncode == 0 and "seedbot" in status.stdout
    listing = subprocess.run([*run, "list"], **opts, timeout=60)
    assert "seedbot" in listing.stdout
    stop = subprocess.run([*run, "stop", "-"], **opts, timeout=60)
    assert stop.returncode == 0
    assert project.one("seedbot")["state"] == "stopped"


def test_legacy_settings_file_is_one_instance(project: Project) -> None:
    project.settings(
        script_path=str(PROG),
        bot_args=[
            *("--mode", "sleep", "--pids", str(project.pids)),
            *("--lifeline", str(project.lifeline.path)),
        ],
    )
    proc = project.gk("start", "-d")
    assert proc.returncode == 0, proc.stderr
    assert project.one("daemon_config")["state"] == "running"


def test_shutdown_stops_everything(project: Project) -> None:
    project.instance("a")
    project.instance("b")
    project.gk("start", "-d", check=True)
    keeper = project.keeper_pid()
    proc = project.gk("shutdown")
    assert proc.returncode == 0
    assert project.alive() == []
    assert not (project.home / "keeper.sock").exists()
    import psutil

    assert not psutil.pid_exists(keeper) or psutil.Process(keeper).status() == "zombie"
