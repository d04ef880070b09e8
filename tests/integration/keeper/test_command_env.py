"""`${VAR}` resolves in the environment of the command that starts an instance, not of a keeper
started earlier; what was resolved is kept for automatic restarts and a new keeper."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.integration.keeper.conftest import Project, wait_for

pytestmark = pytest.mark.integration

# Writes what it was given (its environment's key | the argv resolved from ${GK_TEST_KEY}), then
# stays up like a bot, blocked on the test's lifeline (tests wait for the file).
SCRIPT = (
    "import os, sys\n"
    "out = os.path.join(sys.argv[1], str(os.getpid()))\n"
    "open(out + '.tmp', 'w').write(os.environ.get('GK_TEST_KEY', '-') + '|' + sys.argv[2])\n"
    "os.rename(out + '.tmp', out)\n"
)
ALPHA = "alpha-key-value-1234"
BETA = "beta-key-value-5678"


def keyed_instance(project: Project, out: Path, **daemon: object) -> Path:
    data = {
        "metadata": {"instance_id": "keyed"},
        "daemon_config": {
            "command": [
                *("{python}", "-c", SCRIPT + project.lifeline.python()),
                *(str(out), "${GK_TEST_KEY}"),
            ],
            "auto_restart": "always",
            **daemon,
        },
    }
    path = project.active / "keyed.json"
    path.write_text(json.dumps(data))
    return path


def seen(out: Path, pid: int) -> str:
    path = out / str(pid)
    wait_for(path.exists, what=f"pid {pid} to write what it was given")
    return path.read_text()


def running_pid(project: Project, name: str, other_than: int | None = None) -> int:
    def check() -> int | None:
        row = project.one(name)
        pid = row["pid"]
        if row["state"] == "running" and pid and pid != other_than:
            return int(pid)
        return None

    result: int = wait_for(check, what=f"{name} running with a new pid")
    return result


def test_command_env_wins_and_is_kept(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "seen"
    out.mkdir()
    project.env.pop("GK_TEST_KEY", None)
    project.instance("other")
    # The keeper starts now, from an environment without the key.
    project.gk("start", "-d", "--config", str(project.active / "other.json"), check=True)
    config = keyed_instance(project, out)

    # Exported after the keeper started: used by the next start.
    with_key = {**project.env, "GK_TEST_KEY": ALPHA}
    saved, project.env = project.env, with_key
    project.gk("start", "-d", "--config", str(config), check=True)
    project.env = saved
    pid = running_pid(project, "keyed")
    assert seen(out, pid) == f"{ALPHA}|{ALPHA}"

    # An automatic restart (a crash) keeps what the command resolved.
    os.kill(pid, signal.SIGKILL)
    pid = running_pid(project, "keyed", other_than=pid)
    assert seen(out, pid) == f"{ALPHA}|{ALPHA}"

    # A restart from a shell without the key keeps the old one...
    project.gk("restart", "keyed", check=True)
    pid = running_pid(project, "keyed", other_than=pid)
    assert seen(out, pid) == f"{ALPHA}|{ALPHA}"

    # ...and one with a new value uses it.
    project.env = {**project.env, "GK_TEST_KEY": BETA}
    project.gk("restart", "keyed", check=True)
    project.env = saved
    pid = running_pid(project, "keyed", other_than=pid)
    assert seen(out, pid) == f"{BETA}|{BETA}"

    # A new keeper (the old one killed) adopts the bot and still restarts it with BETA.
    os.kill(project.keeper_pid(), signal.SIGKILL)
    assert project.one("keyed")["pid"] == pid  # this command started a keeper that adopted it
    os.kill(pid, signal.SIGKILL)
    pid = running_pid(project, "keyed", other_than=pid)
    assert seen(out, pid) == f"{BETA}|{BETA}"

    # state.db keeps the values (mode 0600); the keeper's logs and events never carry them.
    mode = stat.S_IMODE((project.home / "state.db").stat().st_mode)
    assert mode == 0o600
    with sqlite3.connect(project.home / "state.db") as db:
        spec = json.loads(db.execute("SELECT spec FROM instances WHERE name='keyed'").fetchone()[0])
        events = " ".join(str(r) for r in db.execute("SELECT message, data FROM events"))
    assert spec["kept_env"] == {"GK_TEST_KEY": BETA}
    assert ALPHA not in events and BETA not in events
    for log in (project.home / "logs" / "keeper").rglob("*"):
        if log.is_file() and log.suffix != ".gz":
            text = log.read_text(errors="replace")
            assert ALPHA not in text and BETA not in text, log


def test_start_by_name_of_a_stopped_instance_uses_the_command_env(
    project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "seen"
    out.mkdir()
    project.env.pop("GK_TEST_KEY", None)
    config = keyed_instance(project, out)
    project.env = {**project.env, "GK_TEST_KEY": ALPHA}
    project.gk("start", "-d", "--config", str(config), check=True)
    pid = running_pid(project, "keyed")
    project.gk("stop", "keyed", check=True)
    project.env = {**project.env, "GK_TEST_KEY": BETA}
    project.gk("start", "-d", "keyed", check=True)
    pid = running_pid(project, "keyed", other_than=pid)
    assert seen(out, pid) == f"{BETA}|{BETA}"


def test_unset_variable_names_the_command(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "seen"
    out.mkdir()
    project.env.pop("GK_TEST_KEY", None)
    config = keyed_instance(project, out)
    proc = project.gk("start", "-d", "--config", str(config))
    assert proc.returncode == 2
    assert "GK_TEST_KEY is not set" in proc.stderr


def test_env_file_survives_without_any_shell(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "seen"
    out.mkdir()
    project.env.pop("GK_TEST_KEY", None)
    env_file = project.root / "keyed.env"
    env_file.write_text(f"GK_TEST_KEY={ALPHA}\n")
    env_file.chmod(0o600)
    config = keyed_instance(project, out, env_file="keyed.env")
    project.gk("start", "-d", "--config", str(config), check=True)
    pid = running_pid(project, "keyed")
    assert seen(out, pid) == f"{ALPHA}|{ALPHA}"
    # Edited file, a restart from a shell without the key: the file's new value applies.
    env_file.write_text(f"export GK_TEST_KEY='{BETA}'\n")
    project.gk("restart", "keyed", check=True)
    pid = running_pid(project, "keyed", other_than=pid)
    assert seen(out, pid) == f"{BETA}|{BETA}"
