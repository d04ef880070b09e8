"""A secret put into a non-secret field (through `${VAR}` or pasted literally) is never echoed
by the validation error: the CLI names the file, the field and the reason, exits non-zero, and
neither stdout nor stderr holds the secret in any spelling (gridkeeper.config.errors)."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from gridkeeper.config.errors import looks_like_key, scrub

SECRET = base64.b64encode(secrets.token_bytes(32)).decode()  # an ED25519 seed, as Backpack's
HEX_TOKEN = secrets.token_hex(32)


def _instance(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "metadata": {"instance_id": "b1", "exchange": "paper", "symbol": "SOL_USDC"},
        "daemon_config": {"web_port": 18111},
        "exchange_config": {"base_url": "http://127.0.0.1:1", "ws_url": "ws://127.0.0.1:1/ws"},
        "strategy_config": {
            "grid_lower_price": "90",
            "grid_upper_price": "110",
            "grid_num": 11,
            "order_quantity": "1",
        },
    }
    for path, value in changes.items():
        section, key = path.split("__")
        doc[section][key] = value
    doc["metadata"]["strategy"] = "grid"
    return doc


def _spellings(secret: str) -> set[str]:
    return {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode(),
        secret[:24],  # a prefix is a leak too
    }


def _run(
    tmp_path: Path, doc: dict[str, Any], *args: str
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    (tmp_path / "config" / "active").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config" / "active" / "b1.json"
    path.write_text(json.dumps(doc))
    env = {**os.environ, "API_SECRET": SECRET}
    proc = subprocess.run(
        [sys.executable, "-m", "gridkeeper", *args, str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return path, proc


CASES = [
    # (field changed, its value, the secret to look for, the reason shown)
    ("metadata__exchange", "${API_SECRET}", SECRET, "is not supported"),
    ("strategy_config__grid_lower_price", "${API_SECRET}", SECRET, "valid decimal"),
    ("daemon_config__web_port", "${API_SECRET}", SECRET, "valid integer"),
    ("strategy_config__grid_num", SECRET, SECRET, "valid integer"),  # pasted literally
    ("exchange_config__base_url", HEX_TOKEN, HEX_TOKEN, "absolute http"),
]


@pytest.mark.parametrize(
    ("field", "value", "secret", "reason"), CASES, ids=[case[0] for case in CASES]
)
def test_config_check_never_echoes_the_secret(
    tmp_path: Path, field: str, value: str, secret: str, reason: str
) -> None:
    path, proc = _run(tmp_path, _instance(**{field: value}), "config", "check", "--offline")
    assert proc.returncode != 0
    section, key = field.split("__")
    named = f"{path}: {section}.{key}" if section != "metadata" else f"{path}: "
    assert named in proc.stderr and reason in proc.stderr, proc.stderr
    if section == "metadata":
        assert f"{section}.{key}" in proc.stderr
    for spelling in _spellings(secret):
        assert spelling not in proc.stdout + proc.stderr


def test_the_bot_never_echoes_it_either(tmp_path: Path) -> None:
    """The bot's own start-up (its config resolver's last stderr line): exit 78, no secret."""
    doc = _instance(metadata__exchange="${API_SECRET}")
    path, proc = _run(tmp_path, doc, "bot", "--home", str(tmp_path / "home"), "--config")
    assert proc.returncode == 78
    assert str(path) in proc.stderr and "metadata.exchange" in proc.stderr
    for spelling in _spellings(SECRET):
        assert spelling not in proc.stdout + proc.stderr


def test_harmless_values_are_still_echoed(tmp_path: Path) -> None:
    _, proc = _run(tmp_path, _instance(strategy_config__grid_num="eleven"), "config", "check")
    assert proc.returncode == 2 and "(got 'eleven')" in proc.stderr


def test_key_shapes() -> None:
    assert looks_like_key(SECRET) and looks_like_key(HEX_TOKEN)
    assert looks_like_key(base64.urlsafe_b64encode(secrets.token_bytes(64)).decode())
    assert looks_like_key(f"token_{HEX_TOKEN}") and HEX_TOKEN not in scrub(f"tok_{HEX_TOKEN}")
    for words in ("strategy_config.reconcile_interval_s", "SOL_USDC_PERP", "grid_lower_price"):
        assert not looks_like_key(words)
    message = f"metadata.exchange {SECRET!r} is not supported (reconcile_interval_s)"
    assert scrub(message) == "metadata.exchange '<hidden>' is not supported (reconcile_interval_s)"
    assert scrub("bad port in 'db-p4ss'", ["db-p4ss"]) == "bad port in '<hidden>'"
    assert scrub("got '1'", ["1"]) == "got '1'"  # too short to hide: messages stay readable
