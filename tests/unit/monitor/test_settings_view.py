"""The monitor's settings without pydantic: the validated models' JSON (config.monitor_wire)
read back as read-only sections, secrets kept secret, mappings kept mappings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gridkeeper.config.monitor import MonitorSettings, NotificationSettings
from gridkeeper.config.monitor_wire import to_plain
from gridkeeper.errors import ConfigError
from gridkeeper.monitor.settings_view import Secret, load, parse


def _doc(monitor: MonitorSettings, notifications: NotificationSettings) -> dict[str, object]:
    # Through JSON text, as it crosses the pipe.
    return json.loads(
        json.dumps(
            {
                "ok": True,
                "settings_path": None,
                "log_dir": "logs",
                "monitor": to_plain(monitor),
                "notifications": to_plain(notifications),
                "secrets": ["s3cret"],
            }
        )
    )


def test_sections_read_like_the_models() -> None:
    monitor = MonitorSettings.model_validate(
        {"interval": 7, "rules": {"host_cpu": {"threshold": 55}}}
    )
    notifications = NotificationSettings.model_validate(
        {
            "webhook": {"enabled": True, "url": "http://127.0.0.1:9/hook", "secret": "s3cret"},
            "alertmanager": {"labels": {"env": "prod"}},
        }
    )
    config = parse(_doc(monitor, notifications))
    assert config.monitor.interval == 7.0
    assert config.monitor.rules.host_cpu.threshold == 55.0
    assert config.monitor.rules.host_cpu.level == monitor.rules.host_cpu.level
    hook = config.notifications.webhook
    assert hook.enabled and hook.url == "http://127.0.0.1:9/hook"
    assert hook.secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(hook) and "s3cret" not in str(hook.secret)
    assert isinstance(config.notifications.telegram.bot_token, Secret)
    assert config.notifications.alertmanager.labels == {"env": "prod"}
    assert config.secrets == ["s3cret"]
    with pytest.raises(AttributeError):
        config.monitor.interval = 1  # type: ignore[misc]


def test_a_refused_settings_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "settings.json"
    bad.write_text('{"monitor": {"interval": -1}}')
    with pytest.raises(ConfigError) as err:
        load(bad)
    assert "interval" in str(err.value)


def test_the_resolver_reads_a_real_file_with_variables(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "monitor": {"interval": 3},
                "notifications": {
                    "telegram": {"enabled": True, "bot_token": "${GK_TEST_TOKEN}", "chat_id": "1"}
                },
            }
        )
    )
    env = {**os.environ, "GK_TEST_TOKEN": "123:abc"}
    done = subprocess.run(
        [sys.executable, "-m", "gridkeeper.config.monitor_wire", "--settings", str(path)],
        env=env,
        capture_output=True,
        check=True,
    )
    config = parse(json.loads(done.stdout))
    assert config.monitor.interval == 3.0
    assert config.notifications.telegram.bot_token.get_secret_value() == "123:abc"
    assert config.settings_path == path.resolve()
    assert "123:abc" in config.secrets


def test_the_monitor_process_path_leaves_pydantic_out() -> None:
    """Every module the monitor process runs (its entry point, the loop, trading alerts, grid
    metrics, Telegram commands) imports no pydantic and no config model: a type-only import that
    became a real one would cost the monitor ~15 MiB (docs/footprint.md, issue 14)."""
    modules = [
        "gridkeeper.monitor.main",
        "gridkeeper.monitor.service",
        "gridkeeper.monitor.grid_rules",
        "gridkeeper.monitor.grids",
        "gridkeeper.monitor.commands.poller",
        "gridkeeper.monitor.channels.factory",
    ]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'"
        + " or m.startswith('gridkeeper.config.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
