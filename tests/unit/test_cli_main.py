"""The CLI entry point routes commands and maps errors to exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gridkeeper.cli.main import main


def test_version_prints_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """`gridkeeper --version` prints the package version."""
    assert main(["--version"]) == 0
    assert "gridkeeper" in capsys.readouterr().out


def test_unknown_command_is_usage_error() -> None:
    """An unknown command exits 2 with a message, not a traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "gridkeeper", "no-such-command"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "no-such-command" in proc.stderr
