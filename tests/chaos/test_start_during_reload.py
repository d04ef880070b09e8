"""`start -d` for an instance that a concurrent `reload` restarts: the start's reply tells the
end state (running, exit 0), not the kill it saw on the way (issue 11, "smaller")."""

from __future__ import annotations

import json
from pathlib import Path

from gridkeeper.errors import KeeperUnavailable
from gridkeeper.keeper.client import KeeperError
from tests.chaos.conftest import Project
from tests.chaos.test_racing_commands import gk_async, row, slow_instance, terms
from tests.support import wait_for


def state(project: Project, name: str) -> str | None:
    """The instance's state, or None while the start's keeper is still coming up."""
    try:
        return str(row(project, name)["state"])
    except (KeeperUnavailable, KeeperError):
        return None


def test_start_reports_running_when_a_reload_restarts_the_instance(
    project: Project, tmp_path: Path
) -> None:
    folder = tmp_path / "slow"
    # A long startsecs keeps the start waiting while the reload lands.
    config, release = slow_instance(project, "slow", folder, startsecs=4)
    start = gk_async(project, "start", "-d", "--config", str(config))
    wait_for(lambda: state(project, "slow") == "starting", what="the start's spawn")
    first = row(project, "slow")["pid"]

    data = json.loads(config.read_text())
    data["daemon_config"]["stop_timeout"] = 31  # a changed config: reload restarts it
    config.write_text(json.dumps(data))
    reload = project.gk("reload")
    assert reload.returncode == 0, reload.stderr
    assert "slow" in reload.stdout
    wait_for(lambda: len(terms(folder)) == 1, what="the reload's SIGTERM")
    assert row(project, "slow")["state"] == "stopping"
    assert start.poll() is None, start.communicate()  # still waiting: not running yet

    release.close()
    out, err = start.communicate(timeout=60)
    assert start.returncode == 0, (out, err)
    assert "running" in out and "stopped" not in out, (out, err)
    final = row(project, "slow")
    assert final["state"] == "running" and final["pid"] not in (None, first)
    assert len(list(folder.glob("pid.*"))) == 2
