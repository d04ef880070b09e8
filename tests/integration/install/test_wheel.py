"""The wheel as a user gets it: built, installed into a fresh venv, run from an empty directory.

pip's cache makes the dependency install fast after the first run; nothing else is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
DEMO_PORTS = (8686, 5000, 5001)  # the demo configs' fixed ports


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 180) -> str:
    proc = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"{argv} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _stop_leftovers(venv: Path) -> None:
    """Whatever still runs from the test's venv (only if `shutdown` failed): killed by pid."""
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if cmdline and str(venv) in cmdline[0]:
            with contextlib.suppress(psutil.Error):
                proc.kill()


@pytest.mark.timeout(600)
def test_wheel_installs_and_runs_from_an_empty_directory(tmp_path: Path) -> None:
    busy = [p for p in DEMO_PORTS if _busy(p)]
    assert not busy, f"the demo's ports {busy} are taken (a `make run` still up? make stop)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDKEEPER_", "PYTHON"))}
    env.pop("VIRTUAL_ENV", None)
    dist, venv, work, home = (tmp_path / n for n in ("dist", "venv", "work", "home"))
    work.mkdir()
    env["GRIDKEEPER_HOME"] = str(home)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "wheel", str(REPO), "--no-deps", "-w", str(dist)], cwd=tmp_path, env=env)
    (wheel,) = dist.glob("gridkeeper-*.whl")
    # A venv without its own pip (faster); this interpreter's pip installs into it.
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    _run([*pip, "--python", str(python), "install", str(wheel)], cwd=tmp_path, env=env)
    probe = "import gridkeeper; print(gridkeeper.__file__)"
    where = _run([str(python), "-c", probe], cwd=work, env=env)
    assert where.startswith(str(venv)), f"imported the checkout, not the wheel: {where}"

    gk = str(venv / "bin" / "gridkeeper")
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert _run([gk, "--version"], cwd=work, env=env).strip() == f"gridkeeper, version {declared}"
    out = _run([gk, "init"], cwd=work, env=env)
    assert "gridkeeper new" in out
    assert (work / "config" / "templates" / "backpack_sol_spot_grid.json").is_file()
    out = _run([gk, "config", "check"], cwd=work, env=env)
    assert "ok  " + str(work / "config" / "daemon_config.json") in out
    try:
        out = _run([gk, "run-demo"], cwd=work, env=env)
        assert "paper-sol-spot: grid 140" in out, out
        assert (home / "demo" / "active" / "paper_sol_spot_grid.json").is_file()
        out = _run([gk, "status"], cwd=work, env=env)
        for name in ("paper-exchange", "paper-sol-spot", "paper-sol-perp"):
            assert any(line.startswith(name) and " running " in line for line in out.splitlines())
        out = _run([gk, "shutdown"], cwd=work, env=env)
        assert "stopped" in out
    finally:
        subprocess.run([gk, "shutdown"], cwd=work, env=env, capture_output=True, timeout=120)
        _stop_leftovers(venv)
    assert not [p for p in DEMO_PORTS if _busy(p)]
    assert list(work.iterdir()) == [work / "config"], "commands wrote into the working directory"
