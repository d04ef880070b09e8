"""`web.enabled`: the keeper runs the dashboard as a built-in instance, like the monitor."""

from __future__ import annotations

import json

import httpx

from tests.integration.bot.conftest import wait_for
from tests.integration.keeper.conftest import FAST
from tests.integration.operations.conftest import Ops
from tests.support import free_port


def _settings(ops: Ops, **web: object) -> None:
    (ops.root / "config" / "daemon_config.json").write_text(json.dumps({**FAST, "web": web}))


def _names(ops: Ops) -> dict[str, str]:
    return {str(r["name"]): str(r["state"]) for r in ops.status()}


def test_the_keeper_runs_the_dashboard_and_follows_the_settings(ops: Ops) -> None:
    port = free_port()
    _settings(ops, enabled=True, port=port)
    ops.program("plain")
    started = ops.gk("start", "-d")
    assert started.returncode == 0, started.stderr
    wait_for(lambda: _names(ops).get("gridkeeper-web") == "running", what="dashboard running")
    token_file = ops.home / "tokens" / "web.token"
    wait_for(token_file.exists, what="the dashboard's token")
    url = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
    info = wait_for(lambda: httpx.get(url + "/api/info", headers=auth, timeout=5).json())
    assert info["home"] == str(ops.home)
    rows = httpx.get(url + "/api/instances", headers=auth, timeout=10).json()
    assert {"plain", "gridkeeper-web"} <= {r["name"] for r in rows}

    # `stop --all` is the operator's instances: the dashboard stays up to show them stopped.
    assert ops.gk("stop", "--all").returncode == 0
    assert _names(ops)["plain"] == "stopped"
    assert _names(ops)["gridkeeper-web"] == "running"

    # Turned off in the settings: a reload stops it and its port closes.
    _settings(ops, enabled=False, port=port)
    assert ops.gk("reload").returncode == 0
    wait_for(lambda: "gridkeeper-web" not in _names(ops), what="dashboard removed")

    def closed() -> bool:
        try:
            httpx.get(url + "/login", timeout=2)
        except httpx.ConnectError:
            return True
        return False

    wait_for(closed, what="port closed")
