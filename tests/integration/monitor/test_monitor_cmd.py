"""`gridkeeper monitor` and the seed's `monitoring/monitoring.py` as real processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .servers import HttpReceiver, wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def _settings(tmp_path: Path, webhook_url: str) -> Path:
    path = tmp_path / "daemon_config.json"
    path.write_text(
        json.dumps(
            {
                "monitor": {"interval": 0.5, "rules": {"keeper_down": {"for_seconds": 3600}}},
                "notifications": {
                    "webhook": {"enabled": True, "url": webhook_url, "secret": "${HOOK_SECRET}"},
                    "retry_initial": 0.1,
                },
            }
        )
    )
    return path


def test_seed_entry_point_runs_the_monitor_until_sigterm(gk_home: Path, tmp_path: Path) -> None:
    """`python monitoring/monitoring.py`: a custom alert reaches the webhook; SIGTERM exits 0."""
    receiver = HttpReceiver().start()
    settings = _settings(tmp_path, receiver.url + "/hook")
    env = {**os.environ, "HOOK_SECRET": "abc"}
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "monitoring" / "monitoring.py"), "--settings", str(settings)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: (gk_home / "monitor.lock").exists(), what="monitor start")
        raised = subprocess.run(
            [sys.executable, "-m", "gridkeeper", "alert", "raise", "smoke", "--level", "error"],
            env=env,
            capture_output=True,
            check=False,
        )
        assert raised.returncode == 0, raised.stderr
        wait_for(lambda: len(receiver.received()) >= 1, timeout=20, what="webhook delivery")
        body = receiver.received()[0].json()
        assert (body["rule"], body["subject"], body["kind"]) == ("custom", "smoke", "firing")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        receiver.stop()
    assert proc.returncode == 0, out.decode(errors="replace")
    assert b"abc" not in out  # the webhook secret never reaches the log


def test_background_monitor_and_a_second_one_refused(gk_home: Path, tmp_path: Path) -> None:
    """`monitor -d` returns with the pid; a second monitor on the home exits 1 with a reason."""
    settings = _settings(tmp_path, "http://127.0.0.1:9/")
    env = {**os.environ, "HOOK_SECRET": "abc"}
    started = subprocess.run(
        [sys.executable, "-m", "gridkeeper", "monitor", "-d", "--settings", str(settings)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert started.returncode == 0, started.stderr
    match = re.search(r"pid (\d+)", started.stdout)
    assert match
    pid = int(match.group(1))
    try:
        second = subprocess.run(
            [sys.executable, "-m", "gridkeeper", "monitor", "--settings", str(settings)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        assert second.returncode == 1
        assert "already runs" in second.stderr and str(pid) in second.stderr
    finally:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not _alive(pid), timeout=20, what="background monitor exit")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # Reaped by init or a zombie of ours? It is not our child (new session), so gone or running.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
