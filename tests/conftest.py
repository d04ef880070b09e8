"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def gk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh keeper home, exported as $GRIDKEEPER_HOME for code and child processes."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("GRIDKEEPER_HOME", str(home))
    return home
