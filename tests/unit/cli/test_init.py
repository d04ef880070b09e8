"""`gridkeeper init`: a working config tree, never overwriting."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from gridkeeper.cli.main import main
from gridkeeper.config import load_active, load_instance, load_settings


def test_init_writes_a_working_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GRIDKEEPER_SETTINGS", raising=False)
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    root = tmp_path / "config"
    env = root / "gridkeeper.env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert "BACKPACK_KEY=" in env.read_text()
    assert "gridkeeper new" in out and str(env) in out
    settings = load_settings(root / "daemon_config.json")
    assert [c.name for c in load_active(root / "active", settings)] == ["paper-exchange"]
    for template in sorted((root / "templates").glob("*.json")):
        keys = {"BACKPACK_KEY": "k" * 44, "BACKPACK_SECRET": "s" * 44}
        load_instance(template, settings, env=keys)
    assert {p.name for p in (root / "templates").glob("*.json")} == {
        "backpack_sol_spot_grid.json",
        "backpack_sol_perp_grid.json",
        "paper_sol_spot_grid.json",
        "paper_sol_perp_grid.json",
    }
    # `config check` from the same directory finds the tree and passes.
    assert main(["config", "check", "--offline"]) == 0
    assert "ok  " in capsys.readouterr().out


def test_init_never_overwrites_and_says_what_it_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "mine"
    (target / "active").mkdir(parents=True)
    edited = {"log_dir": "my-logs"}
    (target / "daemon_config.json").write_text(json.dumps(edited))
    (target / "gridkeeper.env").write_text("BACKPACK_KEY=mine\n")
    assert main(["init", str(target)]) == 0
    out = capsys.readouterr().out
    assert json.loads((target / "daemon_config.json").read_text()) == edited
    assert (target / "gridkeeper.env").read_text() == "BACKPACK_KEY=mine\n"
    assert f"kept  {target / 'daemon_config.json'}" in out
    assert f"kept  {target / 'gridkeeper.env'}" in out
    assert f"wrote {target / 'paper_exchange.json'}" in out
    # Outside ./config the settings are found only through $GRIDKEEPER_SETTINGS: it says so.
    assert f"export GRIDKEEPER_SETTINGS={target / 'daemon_config.json'}" in out
