"""`gridkeeper config migrate`: a seed file shown, then written, in our names with keys as
${VAR} references; the result passes `config check`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.keeper.test_seed_configs import seed_instance

pytestmark = pytest.mark.integration

KEY, SECRET = "literal-api-key-123", "literal-secret-456789"


def gk(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridkeeper", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_migrate_shows_then_writes(tmp_path: Path) -> None:
    doc = seed_instance("bp_sol_01", 5099)
    doc["secret_key"] = SECRET
    doc["exchange_config"]["api_key"] = KEY
    doc["exchange_config"]["secret_key"] = SECRET
    doc["daemon_config"]["auto_restart"] = True
    (tmp_path / "config" / "active").mkdir(parents=True)
    path = tmp_path / "config" / "active" / "bp_sol_01.json"
    path.write_text(json.dumps(doc))
    path.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKPACK_")}
    env.pop("GRIDKEEPER_SETTINGS", None)

    shown = gk(tmp_path, "config", "migrate", str(path), env=env)
    assert shown.returncode == 0, shown.stderr
    assert "exchange_config.secret_key: renamed exchange_config.api_secret" in shown.stdout
    assert "now ${BACKPACK_SECRET}" in shown.stdout and "now ${BACKPACK_KEY}" in shown.stdout
    assert "strategy_config.auto_borrow: removed" in shown.stdout
    assert "grid_num: top-level key the seed ignored: removed" in shown.stdout
    assert "exchange_config.api_key holds a literal key" in shown.stderr
    assert KEY not in shown.stdout + shown.stderr and SECRET not in shown.stdout + shown.stderr
    assert json.loads(path.read_text()) == doc  # showing changes nothing

    written = gk(tmp_path, "config", "migrate", str(path), "--write", env=env)
    assert written.returncode == 0, written.stderr
    new = json.loads(path.read_text())
    assert new["exchange_config"]["api_secret"] == "${BACKPACK_SECRET}"
    assert new["exchange_config"]["api_key"] == "${BACKPACK_KEY}"
    assert new["daemon_config"]["auto_restart"] == "always"
    assert "secret_key" not in new and "grid_num" not in new
    assert "api_version" not in new["exchange_config"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    backup = path.with_name(path.name + ".bak")
    assert json.loads(backup.read_text()) == doc
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    # The migrated file checks clean (no seed warnings left) once the keys are exported.
    check = gk(
        tmp_path,
        "config",
        "check",
        "--offline",
        str(path),
        env={**env, "BACKPACK_KEY": KEY, "BACKPACK_SECRET": SECRET},
    )
    assert check.returncode == 0, check.stderr
    assert "ignored" not in check.stderr
    again = gk(tmp_path, "config", "migrate", str(path), env=env)
    assert "nothing to change" in again.stdout


def test_migrate_a_settings_file_turns_its_secrets_into_references(tmp_path: Path) -> None:
    """The seed's config/daemon_config.json with a literal SMTP password and Telegram token:
    migrate shows where (never the values), --write turns them into ${SMTP_PASSWORD} and
    ${TELEGRAM_BOT_TOKEN}, keeps references that were already there, and writes 0600."""
    env = {**os.environ, "HOME": str(tmp_path)}
    settings = tmp_path / "config" / "daemon_config.json"
    settings.parent.mkdir()
    doc = {
        "log_dir": "logs",
        "notifications": {
            "email": {"enabled": False, "password": "hunter2-smtp-secret", "to_emails": []},
            "telegram": {"enabled": False, "bot_token": "123456:literal-bot-token"},
            "webhook": {"enabled": False, "url": "", "secret": "${WEBHOOK_SECRET:-}"},
        },
    }
    settings.write_text(json.dumps(doc))
    shown = gk(tmp_path, "config", "migrate", str(settings), env=env)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout + shown.stderr
    assert "hunter2-smtp-secret" not in out and "literal-bot-token" not in out  # never shown
    assert "notifications.email.password: a literal secret" in out
    assert "notifications.telegram.bot_token: a literal secret" in out
    assert "webhook" not in shown.stdout.split("{")[0]  # a reference already: nothing to say
    written = gk(tmp_path, "config", "migrate", str(settings), "--write", env=env)
    assert written.returncode == 0, written.stderr
    cleaned = json.loads(settings.read_text())
    assert cleaned["notifications"]["email"]["password"] == "${SMTP_PASSWORD}"
    assert cleaned["notifications"]["telegram"]["bot_token"] == "${TELEGRAM_BOT_TOKEN}"
    assert cleaned["notifications"]["webhook"]["secret"] == "${WEBHOOK_SECRET:-}"
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
    again = gk(tmp_path, "config", "migrate", str(settings), env=env)
    assert "nothing to change" in again.stdout
