"""A real keeper supervising real grid bots on a real paper exchange, driven by the real CLI."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.integration.bot.conftest import PAPER_CONFIG, Paper, wait_for
from tests.integration.keeper.conftest import FAST, PROG, kill_everything
from tests.support import Lifeline, free_port


@dataclass
class Ops:
    """A project whose keeper home is the paper exchange's home (the bots read its demo keys)."""

    root: Path
    home: Path
    paper: Paper
    env: dict[str, str]
    lifeline: Lifeline  # what a plain program blocks on to stay up (prog.py --lifeline)

    def grid(self, name: str, **strategy: Any) -> int:
        """Write a grid instance config; returns its control port."""
        port = free_port()
        config = {
            "metadata": {
                "instance_id": name,
                "exchange": "paper",
                "symbol": "SOL_USDC",
                "strategy": "grid",
            },
            "daemon_config": {"web_port": port},
            "exchange_config": {
                "base_url": self.paper.url,
                "ws_url": self.paper.url.replace("http", "ws") + "/ws",
            },
            "strategy_config": {
                "grid_lower_price": "90",
                "grid_upper_price": "110",
                "grid_num": 11,
                "order_quantity": "1",
                "poll_interval_s": 0.2,
                "reconcile_interval_s": 1.0,
                **strategy,
            },
        }
        (self.root / "config" / "active" / f"{name}.json").write_bytes(orjson.dumps(config))
        return port

    def program(self, name: str) -> None:
        """A plain supervised program (not a grid): it gets no grid columns."""
        pids = self.root / "pids"
        pids.mkdir(exist_ok=True)
        command = ["{python}", str(PROG), "--mode", "sleep", "--pids", str(pids)]
        command += ["--lifeline", str(self.lifeline.path)]
        data = {"metadata": {"instance_id": name}, "daemon_config": {"command": command}}
        (self.root / "config" / "active" / f"{name}.json").write_text(json.dumps(data))

    def gk(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gridkeeper", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def token(self, name: str) -> str:
        return (self.home / "tokens" / f"{name}.token").read_text().strip()

    def view(self, name: str, port: int) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token(name)}"}
        answer = httpx.get(f"http://127.0.0.1:{port}/api/grid", headers=headers, timeout=5)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def post(self, name: str, port: int, path: str) -> None:
        headers = {"Authorization": f"Bearer {self.token(name)}"}
        httpx.post(f"http://127.0.0.1:{port}{path}", headers=headers, json={}, timeout=10)

    def status(self, *args: str) -> list[dict[str, Any]]:
        proc = self.gk("status", "--json", *args)
        assert proc.returncode in (0, 3), proc.stderr
        rows: list[dict[str, Any]] = json.loads(proc.stdout)
        return rows


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[Ops]:
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "paper_exchange.json"
    config.write_bytes(orjson.dumps({"profile": "kind", **PAPER_CONFIG}))
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "gridkeeper", "exchange", "--config", str(config)),
            *("--port", str(port), "--home", str(home)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    paper = Paper(f"http://127.0.0.1:{port}", home, proc)
    root = tmp_path / "proj"
    (root / "config" / "active").mkdir(parents=True)
    (root / "config" / "daemon_config.json").write_text(json.dumps(FAST))
    env = dict(os.environ)
    env.pop("GRIDKEEPER_SETTINGS", None)
    env["GRIDKEEPER_HOME"] = str(home)
    env.pop("NO_COLOR", None)
    ops = Ops(root, home, paper, env, Lifeline(tmp_path / "lifeline"))
    try:
        wait_for(
            lambda: httpx.get(f"{paper.url}/api/v1/markets", timeout=2).status_code == 200,
            what="paper exchange",
        )
        wait_for(lambda: (home / "paper" / "demo-account.json").exists(), what="demo keys")
        yield ops
    finally:
        with contextlib.suppress(Exception):
            ops.gk("shutdown", timeout=60)
        kill_everything(home)
        ops.lifeline.close()  # a safety net: the keeper stopped its programs
        proc.terminate()
        proc.wait(timeout=10)
