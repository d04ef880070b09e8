"""`--version`, `completion bash|zsh|fish` and NO_COLOR, through the real entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gridkeeper import __version__
from tests.terminal import Terminal


def _gk(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | env
    return subprocess.run(
        [sys.executable, "-m", "gridkeeper", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=full,
    )


def test_version() -> None:
    done = _gk("--version")
    assert done.returncode == 0 and __version__ in done.stdout


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o nosort"), ("zsh", "compdef"), ("fish", "complete --no-files")],
)
def test_completion_scripts_are_clicks(shell: str, marker: str) -> None:
    done = _gk("completion", shell)
    assert done.returncode == 0, done.stderr
    assert "_GRIDKEEPER_COMPLETE" in done.stdout and marker in done.stdout


def test_completion_answers_commands_and_options() -> None:
    commands = _gk(
        _GRIDKEEPER_COMPLETE="bash_complete", COMP_WORDS="gridkeeper gri", COMP_CWORD="1"
    )
    assert "plain,grid" in commands.stdout.splitlines()
    options = _gk(
        _GRIDKEEPER_COMPLETE="bash_complete", COMP_WORDS="gridkeeper stop --fl", COMP_CWORD="2"
    )
    assert "plain,--flatten" in options.stdout.splitlines()


@pytest.mark.parametrize(("no_color", "styled"), [(None, True), ("1", False)])
def test_no_color_strips_styles(tmp_path: Path, no_color: str | None, styled: bool) -> None:
    """On a terminal the error line is red; with NO_COLOR set it is plain."""
    (tmp_path / "bad.json").write_text("{")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    term = Terminal(
        [sys.executable, "-m", "gridkeeper", "config", "check", "bad.json"], tmp_path, env
    )
    seen = term.expect("invalid JSON")
    assert term.close() == 2
    assert ("\x1b[" in seen) is styled
