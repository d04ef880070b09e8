"""`gridkeeper config check|schema|show`: exit codes and messages an operator can act on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gridkeeper.cli.main import main

REPO = Path(__file__).resolve().parents[3]


def gk(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridkeeper", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_shipped_configs_are_valid() -> None:
    proc = gk("config", "check")
    assert proc.returncode == 0, proc.stderr
    assert "paper-exchange" in proc.stdout


def test_check_reports_file_field_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"daemon_config": {"command": ["x"], "stop_timout": 3}}))
    proc = gk("config", "check", str(bad))
    assert proc.returncode == 2
    assert f"{bad}: daemon_config.stop_timout: unknown key" in proc.stderr
    assert "did you mean 'stop_timeout'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_finds_duplicate_ports_across_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.json").write_text(
            json.dumps({"daemon_config": {"command": ["x"], "web_port": 5999}})
        )
    proc = gk("config", "check", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert proc.returncode == 2
    assert "daemon_config.web_port: duplicate web_port 5999" in proc.stderr


def test_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema", "instance"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "daemon_config" in doc["properties"]
    assert main(["config", "schema", "settings"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "max_restart_attempts" in doc["properties"]


def test_show_redacts_secrets(tmp_path: Path) -> None:
    path = tmp_path / "i.json"
    path.write_text(
        json.dumps(
            {
                "daemon_config": {"command": ["x"]},
                "exchange_config": {"api_key": "pub", "api_secret": "very-secret-seed"},
            }
        )
    )
    path.chmod(0o600)
    proc = gk("config", "show", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "very-secret-seed" not in proc.stdout
    assert json.loads(proc.stdout)["argv"] == ["x"]


def test_check_prints_effective_endpoints_and_warns_backpack_on_localhost(tmp_path: Path) -> None:
    """Issue 9, defect 8: a backpack config without URLs talks to Backpack, not the paper
    exchange; one pointed at 127.0.0.1 is a warning."""
    grid = {"grid_lower_price": 90, "grid_upper_price": 110, "order_quantity": 1}
    meta = {"exchange": "backpack", "symbol": "SOL_USDC", "strategy": "grid"}
    real = tmp_path / "real.json"
    real.write_text(json.dumps({"metadata": meta, "strategy_config": grid}))
    local = tmp_path / "local.json"
    local.write_text(
        json.dumps(
            {
                "metadata": {**meta, "instance_id": "local"},
                "daemon_config": {"web_port": 5999},
                "exchange_config": {"base_url": "http://127.0.0.1:8686"},
                "strategy_config": grid,
            }
        )
    )
    proc = gk("config", "check", "--offline", str(real), str(local))
    assert proc.returncode == 0, proc.stderr
    assert "exchange backpack: https://api.backpack.exchange  wss://ws.backpack.exchange" in (
        proc.stdout
    )
    assert "exchange backpack: http://127.0.0.1:8686" in proc.stdout
    assert "base_url: metadata.exchange is 'backpack' but http://127.0.0.1:8686" in proc.stderr


def test_check_says_in_words_what_the_risk_limits_will_do(tmp_path: Path) -> None:
    """`config check` prints what each limit and the boundary action will do, with the close a
    perp gets (reduce-only) and a spot grid gets (a sell of what it bought)."""
    meta = {"exchange": "backpack", "strategy": "grid"}
    grid = {
        "grid_lower_price": 90,
        "grid_upper_price": 110,
        "order_quantity": 1,
        "stop_loss": 50,
        "stop_loss_action": "close",
    }
    perp = tmp_path / "perp.json"
    perp.write_text(
        json.dumps({"metadata": {**meta, "symbol": "SOL_USDC_PERP"}, "strategy_config": grid})
    )
    spot = tmp_path / "spot.json"
    spot.write_text(
        json.dumps(
            {
                "metadata": {**meta, "symbol": "SOL_USDC", "instance_id": "spot"},
                "daemon_config": {"web_port": 5998},
                "strategy_config": {**grid, "enable_boundary_check": False},
            }
        )
    )
    proc = gk("config", "check", "--offline", str(perp), str(spot))
    assert proc.returncode == 0, proc.stderr
    assert (
        "    stop_loss: when total PnL <= -50: cancel the grid's orders, close its position "
        "with a reduce-only market order, then stop" in proc.stdout
    )
    assert "close its position with a market sell of what the grid bought, then stop" in proc.stdout
    assert "    take_profit: off" in proc.stdout
    assert "boundary_action: off (enable_boundary_check is false)" in proc.stdout
