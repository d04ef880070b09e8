"""The systemd unit `gridkeeper startup` writes: its keys, and systemd's own verdict on it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gridkeeper.keeper.unit import UnitSpec, parse, render


def _spec(tmp_path: Path, *, system: bool) -> UnitSpec:
    return UnitSpec(
        python="/usr/bin/python3",
        home=tmp_path / "my home",
        log_dir=tmp_path / "logs",
        workdir=tmp_path,
        settings=tmp_path / "config" / "daemon_config.json",
        env_file=tmp_path / "gridkeeper.env",
        stop_timeout=25,
        system=system,
        user="root" if system else None,
    )


@pytest.mark.parametrize("system", [True, False])
def test_unit_keys(tmp_path: Path, system: bool) -> None:
    unit = parse(render(_spec(tmp_path, system=system)))
    service = unit["Service"]
    assert service["Type"] == ["notify"]
    assert service["ExecStart"][0].split()[:5] == [
        "/usr/bin/python3",
        "-P",
        "-m",
        "gridkeeper",
        "keeper",
    ]
    assert "--foreground" not in service["ExecStart"][0]  # `keeper` is the foreground mode
    assert service["Restart"] == ["on-failure"] and service["KillMode"] == ["mixed"]
    assert int(service["TimeoutStopSec"][0]) > 25
    assert service["EnvironmentFile"] == [f"-{tmp_path}/gridkeeper.env"]
    assert service["ProtectSystem"] == ["strict"] and service["NoNewPrivileges"] == ["yes"]
    assert service["PrivateTmp"] == ["yes"]
    assert service["ReadWritePaths"] == [f'"{tmp_path}/my home" {tmp_path}/logs']
    assert ("User" in service) is system
    wanted = "multi-user.target" if system else "default.target"
    assert unit["Install"]["WantedBy"] == [wanted]


def test_parse_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse("[Service]\nnot a key value line\n")


@pytest.mark.parametrize("system", [True, False])
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path, system: bool) -> None:
    """systemd-analyze is installed by `make components` (Debian `systemd`)."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing: run `make components`"
    spec = _spec(tmp_path, system=system)
    unit = tmp_path / "gridkeeper-test.service"
    unit.write_text(render(spec))
    argv = [analyze, "verify", *([] if system else ["--user"]), str(unit)]
    runtime = tmp_path / "run"  # --user looks for the user manager's runtime dir
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "gridkeeper-test.service" not in proc.stderr, proc.stderr  # no warning about it
