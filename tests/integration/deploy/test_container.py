"""deploy/Dockerfile and deploy/compose.yaml, checked without a Docker daemon: hadolint, the files
compose mounts exist, the image's settings load and export metrics where Prometheus scrapes,
and the HEALTHCHECK command tells a live keeper from none."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gridkeeper.config import load_settings
from tests.components import binary

pytestmark = pytest.mark.integration
DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    proc = subprocess.run(
        [hadolint, str(DEPLOY / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_runs_the_keeper_in_the_foreground_as_non_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim", text, re.M)
    assert re.search(r"^USER 10001", text, re.M)
    assert '\nCMD ["gridkeeper", "keeper"]' in text  # no --daemonize: PID 1 in the foreground
    # -P: a module in the working directory never shadows ours (see resolver.py)
    assert 'CMD ["python", "-P", "-m", "gridkeeper.keeper.ping"]' in text


def test_compose_files_exist_and_agree() -> None:
    compose = (DEPLOY / "compose.yaml").read_text()
    for rel in re.findall(r"\./(?:compose|grafana)/[\w./-]+", compose):
        if rel.endswith(".env"):  # the operator's keys: optional, an example is shipped
            assert (DEPLOY / (rel + ".example")).is_file(), rel
            continue
        assert (DEPLOY / rel).is_file(), rel
    settings = load_settings(DEPLOY / "compose" / "daemon_config.json")
    assert settings.monitor.metrics_port == 9464 and settings.monitor.metrics_host == "0.0.0.0"
    assert "keeper:9464" in (DEPLOY / "compose" / "prometheus.yml").read_text()
    # the exporter answers only allowed Host names (DNS rebinding): Prometheus uses "keeper"
    assert re.search(r"GRIDKEEPER_ALLOWED_HOSTS: keeper\b", compose)
    assert re.search(r"stop_grace_period: (\d+)s", compose)
    grace = int(re.search(r"stop_grace_period: (\d+)s", compose).group(1))  # type: ignore[union-attr]
    assert grace > settings.stop_timeout
    proc = subprocess.run(
        [binary("promtool"), "check", "config", str(DEPLOY / "compose" / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
