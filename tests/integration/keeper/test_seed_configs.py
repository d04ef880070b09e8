"""The seed system's files and commands, unchanged, against a real keeper and paper exchange.

Configs are written in the seed's shape (every documented key, its value styles: a boolean
auto_restart, `${BASE_URL:-...}`, `secret_key`, a negative stop_loss, stray top-level keys) and
driven through `python core/daemon_manager.py ...` from the project directory, as the seed
document's commands do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.integration.keeper.conftest import FAST, kill_everything
from tests.support import free_port, wait_for

REPO = Path(__file__).resolve().parents[3]

PAPER = {
    "profile": "kind",
    "markets": [
        {
            "symbol": "SOL_USDC_PERP",
            "base_symbol": "SOL",
            "quote_symbol": "USDC",
            "market_type": "PERP",
            "tick_size": "0.01",
            "step_size": "0.01",
            "min_quantity": "0.01",
            "initial_margin": "0.1",
            "initial_price": "100",
        },
        {
            "symbol": "ETH_USDC_PERP",
            "base_symbol": "ETH",
            "quote_symbol": "USDC",
            "market_type": "PERP",
            "tick_size": "0.01",
            "step_size": "0.001",
            "min_quantity": "0.001",
            "initial_margin": "0.1",
            "initial_price": "3000",
        },
    ],
    "price_source": {"kind": "manual"},
    "accounts": [{"name": "demo", "balances": {"USDC": "100000"}}],
}


def seed_instance(name: str, port: int, **strategy: Any) -> dict[str, Any]:
    """An instance file as the seed wrote them (its keys, its value styles, its strays)."""
    return {
        "exchange": "backpack",
        "symbol": "SOL_USDC_PERP",
        "api_key": "",
        "grid_num": 20,
        "order_quantity": 0.5,
        "metadata": {
            "name": "Backpack SOL perp grid",
            "description": "SOL perpetual long grid",
            "instance_id": name,
            "exchange": "backpack",
            "symbol": "SOL_USDC_PERP",
            "market_type": "perp",
            "strategy": "perp_grid",
            "created_at": "2025-01-15T10:00:00",
            "updated_at": "2025-02-01T08:30:00",
            "version": "1.0",
            "author": "trader",
            "tags": ["backpack", "sol", "perp", "grid"],
        },
        "daemon_config": {
            "python_path": ".venv/bin/python3",
            "script_path": "run.py",
            "working_dir": ".",
            "log_dir": f"logs/{name}",
            "db_path": f"database/{name}.db",
            "web_port": port,
            "max_restart_attempts": 3,
            "restart_delay": 1,
            "health_check_interval": 5,
            "memory_limit_mb": 2048,
            "cpu_limit_percent": 90,
            "auto_restart": True,
            "log_cleanup_interval": 86400,
            "log_retention_days": 7,
            "environment": "production",
            "bot_args": [],
            "bot_stop_timeout": 20,
            "bot_kill_timeout": 5,
        },
        "exchange_config": {
            "api_key": "${BACKPACK_KEY}",
            "secret_key": "${BACKPACK_SECRET}",
            "base_url": "${BASE_URL:-https://api.backpack.work}",
            "api_version": "v1",
            "default_window": 5000,
        },
        "strategy_config": {
            "grid_upper_price": 110,
            "grid_lower_price": 90,
            "grid_num": 11,
            "grid_mode": "arithmetic",
            "grid_type": "long",
            "order_quantity": 0.5,
            "max_position": 20,
            "stop_loss": -600,
            "take_profit": 1200,
            "boundary_action": "emergency_close",
            "boundary_tolerance": 0.001,
            "enable_boundary_check": True,
            "duration": 1209600,
            "interval": 1,
            "auto_borrow": True,
            "auto_borrow_repay": True,
            **strategy,
        },
    }


class Seed:
    def __init__(self, root: Path, home: Path, env: dict[str, str]) -> None:
        self.root, self.home, self.env = root, home, env

    def dm(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        """`.venv/bin/python3 core/daemon_manager.py ARGS` from the project directory."""
        return subprocess.run(
            [".venv/bin/python3", "core/daemon_manager.py", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def write(self, rel: str, doc: dict[str, Any]) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2))
        return path


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    home = tmp_path / "paper-home"
    home.mkdir()
    config = tmp_path / "paper.json"
    config.write_bytes(orjson.dumps(PAPER))
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "gridkeeper", "exchange", "--config", str(config)),
            *("--port", str(port), "--home", str(home)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: httpx.get(f"{url}/api/v1/markets", timeout=2).status_code == 200,
            what="paper exchange",
            ignore=(httpx.HTTPError,),
        )
        wait_for(lambda: (home / "paper" / "demo-account.json").exists(), what="demo keys")
        yield url, home
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def seed(tmp_path: Path, paper: tuple[str, Path]) -> Iterator[Seed]:
    """A seed project: config/, the seed's `.venv/bin/python3`, run.py and core/ in place."""
    url, paper_home = paper
    root = tmp_path / "proj"
    (root / "config" / "active").mkdir(parents=True)
    # The seed's `.venv/bin/python3`: this test's virtualenv under the project.
    (root / ".venv").symlink_to(Path(sys.prefix))
    (root / "run.py").symlink_to(REPO / "run.py")
    (root / "core").symlink_to(REPO / "core")
    (root / "config" / "daemon_config.json").write_text(json.dumps(FAST))
    keys = orjson.loads((paper_home / "paper" / "demo-account.json").read_bytes())
    home = tmp_path / "home"
    env = dict(os.environ)
    env.pop("GRIDKEEPER_SETTINGS", None)
    env |= {
        "GRIDKEEPER_HOME": str(home),
        "BASE_URL": url,
        "BACKPACK_KEY": keys["api_key"],
        "BACKPACK_SECRET": keys["api_secret"],
    }
    s = Seed(root, home, env)
    yield s
    s.dm("shutdown", timeout=60)
    kill_everything(home)


def grid_view(seed: Seed, port: int) -> dict[str, Any]:
    """The bot's grid, read with its token (every endpoint but /health needs it)."""
    for token_file in sorted((seed.home / "tokens").glob("*.token")):
        headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
        answer = httpx.get(f"http://127.0.0.1:{port}/api/grid", headers=headers, timeout=5)
        if answer.status_code == 200:
            view: dict[str, Any] = answer.json()
            return view
    raise KeyError("no token of the home opens the bot's API (yet)")


def grid_orders(seed: Seed, port: int) -> int:
    """Open grid orders, 0 while the bot is not answering yet."""
    try:
        return len(grid_view(seed, port)["open_orders"])
    except (httpx.HTTPError, ValueError, KeyError, OSError):
        return 0


def test_seed_instance_file_runs_through_daemon_manager(seed: Seed) -> None:
    port = free_port()
    path = seed.write("config/active/bp_sol_01.json", seed_instance("bp_sol_01", port))

    check = seed.dm("config", "check", "--offline", "config/active/bp_sol_01.json")
    assert check.returncode == 0, check.stderr
    assert "ok  " in check.stdout
    for ignored in ("api_version", "db_path", "auto_borrow", "auto_borrow_repay"):
        assert f".{ignored} is ignored" in check.stderr
    for stray in ("exchange", "symbol", "api_key", "grid_num", "order_quantity"):
        assert f"top-level key '{stray}' is ignored" in check.stderr

    started = seed.dm("start", "--config", "config/active/bp_sol_01.json", "--daemon")
    assert started.returncode == 0, started.stdout + started.stderr
    wait_for(
        lambda: grid_orders(seed, port) > 0, timeout=60, what="grid orders on the paper exchange"
    )

    status = seed.dm("status", "--config", "config/active/bp_sol_01.json")
    assert status.returncode == 0, status.stderr
    assert "bp_sol_01" in status.stdout and "running" in status.stdout
    listed = seed.dm("list")
    assert "bp_sol_01" in listed.stdout
    # The seed's per-instance log_dir (relative to working_dir) is where its logs go.
    wait_for(
        lambda: (seed.root / "logs" / "bp_sol_01" / "bp_sol_01.log").stat().st_size > 0,
        what="the instance log in its own log_dir",
        ignore=(FileNotFoundError,),
    )
    # auto_restart: true is "always", bot_stop_timeout is the stop timeout.
    rows = json.loads(seed.dm("status", "--json", "bp_sol_01").stdout)
    assert rows[0]["state"] == "running"

    stopped = seed.dm("stop", "-")
    assert stopped.returncode == 0, stopped.stderr
    rows = json.loads(seed.dm("status", "--json", "bp_sol_01").stdout)
    assert rows[0]["state"] == "stopped"
    assert path.exists()


def test_unsupported_exchange_is_one_line_exit_2(seed: Seed) -> None:
    doc = seed_instance("aster_btc", free_port())
    doc["metadata"]["exchange"] = "aster"
    doc["exchange_config"] = {"api_key": "${ASTER_KEY}", "secret_key": "${ASTER_SECRET}"}
    seed.write("config/aster.json", doc)
    check = seed.dm("config", "check", "--offline", "config/aster.json")
    assert check.returncode == 2
    lines = [line for line in check.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, check.stderr
    assert "exchange 'aster' is not supported" in lines[0]


def test_typo_stays_an_error_with_did_you_mean(seed: Seed) -> None:
    doc = seed_instance("typo", free_port())
    doc["strategy_config"]["grid_uper_price"] = doc["strategy_config"].pop("grid_upper_price")
    seed.write("config/typo.json", doc)
    check = seed.dm("config", "check", "--offline", "config/typo.json")
    assert check.returncode == 2
    assert "did you mean 'grid_upper_price'" in check.stderr


def test_legacy_settings_file_with_seed_bot_args_runs_a_grid(seed: Seed) -> None:
    port = free_port()
    bot_args = (
        "--exchange backpack --market-type perp --symbol ETH_USDC_PERP --strategy perp_grid "
        "--grid-type long --grid-lower 2750 --grid-upper 3300 --grid-num 50 --grid-mode "
        "geometric --max-position 2.4 --stop-loss 600 --take-profit 1200 --boundary-action "
        "emergency_close --boundary-tolerance 0.001 --enable-boundary-check --duration 1209600 "
        f"--interval 90 --quantity 0.01 --web-port {port}"
    ).split()
    seed.write(
        "config/daemon_config.json",
        {
            **FAST,
            "python_path": ".venv/bin/python3",
            "script_path": "run.py",
            "working_dir": ".",
            "bot_args": bot_args,
            "auto_restart": True,
            "environment": "production",
        },
    )
    started = seed.dm("start", "--daemon")
    assert started.returncode == 0, started.stdout + started.stderr
    wait_for(lambda: grid_orders(seed, port) > 0, timeout=60, what="legacy grid orders")
    view = grid_view(seed, port)
    assert view["grid_lower_price"] == "2750"
    assert view["grid_upper_price"] == "3300"
    # A restart re-reads the settings file in this command's environment (as start does).
    restarted = seed.dm("restart", "daemon_config")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    wait_for(lambda: grid_orders(seed, port) > 0, timeout=60, what="legacy grid after restart")
    stopped = seed.dm("stop", "-")
    assert stopped.returncode == 0, stopped.stderr


def test_missing_order_quantity_is_derived_and_kept(seed: Seed) -> None:
    port = free_port()
    doc = seed_instance("bp_sol_02", port)
    del doc["strategy_config"]["order_quantity"]
    del doc["order_quantity"]
    del doc["strategy_config"]["max_position"]
    seed.write("config/active/bp_sol_02.json", doc)
    check = seed.dm("config", "check", "--offline", "config/active/bp_sol_02.json")
    assert check.returncode == 0, check.stderr
    assert "order_quantity: not set; derived at the first start" in check.stdout
    started = seed.dm("start", "--config", "config/active/bp_sol_02.json", "--daemon")
    assert started.returncode == 0, started.stdout + started.stderr
    wait_for(lambda: grid_orders(seed, port) > 0, timeout=60, what="grid orders")
    # 100000 USDC, 5% kept back, 10 slots, at price 100: 95 SOL per order.
    orders = grid_view(seed, port)["open_orders"]
    assert {Decimal(order["quantity"]) for order in orders} == {Decimal(95)}
    shown = seed.dm("grid", "show", "bp_sol_02")
    assert shown.returncode == 0, shown.stderr
    assert "95" in shown.stdout
    # From any directory: the keeper knows where the instance is.
    elsewhere = seed.root.parent / "elsewhere"
    elsewhere.mkdir()
    anywhere = subprocess.run(
        [sys.executable, "-m", "gridkeeper", "grid", "show", "bp_sol_02"],
        cwd=elsewhere,
        env=seed.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert anywhere.returncode == 0, anywhere.stderr
    assert "95" in anywhere.stdout
    unknown = subprocess.run(
        [sys.executable, "-m", "gridkeeper", "grid", "show", "nobody"],
        cwd=elsewhere,
        env=seed.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unknown.returncode == 2 and "does not know it" in unknown.stderr
    seed.dm("stop", "-")
