"""Package data, `--version` and `python -m gridkeeper`."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from gridkeeper.cli.main import main
from gridkeeper.config import load_active, load_settings
from gridkeeper.resources import DEMO_FILES, config_file, install_demo, walk

REPO_CONFIG = Path(__file__).resolve().parents[3] / "config"


def test_packaged_config_is_the_repositorys(tmp_path: Path) -> None:
    """Every shipped file reads back as the checkout's config/ (one copy, two ways to reach it)."""
    shipped = dict(walk())
    assert set(shipped) >= {*DEMO_FILES, "templates/backpack_sol_spot_grid.json"}
    for rel, node in shipped.items():
        assert node.read_bytes() == (REPO_CONFIG / rel).read_bytes(), rel


def test_install_demo_writes_a_loadable_tree_and_refreshes_a_stale_copy(tmp_path: Path) -> None:
    settings_path = install_demo(tmp_path / "demo")
    settings = load_settings(settings_path)
    names = [c.name for c in load_active(tmp_path / "demo" / "active", settings)]
    assert names == ["paper-exchange", "paper-sol-perp", "paper-sol-spot"]
    stale = tmp_path / "demo" / "active" / "paper_sol_spot_grid.json"
    stale.write_text("{}")
    install_demo(tmp_path / "demo")
    assert stale.read_bytes() == config_file("active/paper_sol_spot_grid.json").read_bytes()


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"gridkeeper, version {version('gridkeeper')}"


def test_python_dash_m_runs_the_cli_from_any_directory(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gridkeeper", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert version("gridkeeper") in proc.stdout
