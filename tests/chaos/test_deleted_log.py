"""A deleted log file of a quiet instance: the keeper lets go of it within about a second,
so its disk space is freed even if the instance never prints again (docs/logs.md)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.chaos.conftest import Project
from tests.support import wait_for


def held_deleted(pid: int, directory: Path) -> list[str]:
    """The deleted files under `directory` that process `pid` still has open."""
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith(str(directory)) and target.endswith(" (deleted)"):
            out.append(target)
    return out


def held(pid: int, directory: Path) -> list[str]:
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(directory)):
            out.append(target)
    return out


def test_a_deleted_log_of_a_quiet_instance_is_let_go(project: Project) -> None:
    config = project.instance("quiet")
    project.gk("start", "-d", "--config", str(config), check=True)
    logs = project.home / "logs" / "quiet"
    wait_for(lambda: "started sleep" in (logs / "quiet.log").read_text(), what="its first line")
    keeper = project.keeper_pid()
    wait_for(lambda: len(held(keeper, logs)) == 3, what="the keeper to hold its three files")

    files = sorted(logs.glob("quiet*.log"))
    assert len(files) == 3
    for file in files:
        file.unlink()
    # The instance prints nothing more: only the writer's own check can notice.
    wait_for(
        lambda: not held_deleted(keeper, logs), timeout=3, what="the deleted files to be closed"
    )
    assert project.one("quiet")["state"] == "running"

    # The next line opens a new file.
    project.gk("restart", "quiet", check=True)
    wait_for(lambda: (logs / "quiet.log").exists(), what="a new log file")
    assert not held_deleted(keeper, logs)
