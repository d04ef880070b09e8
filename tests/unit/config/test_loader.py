"""Config loading: every bad input names its file, its JSON path and the reason."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from gridkeeper.config import load_active, load_instance, load_settings, secret_values
from gridkeeper.config.env import substitute
from gridkeeper.errors import ConfigError

PROGRAM = {"daemon_config": {"command": ["{python}", "-c", "pass"]}}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_program_instance_needs_only_the_program(tmp_path: Path) -> None:
    cfg = load_instance(write(tmp_path / "config/active/echo.json", PROGRAM), load_settings(None))
    assert cfg.name == "echo"
    assert cfg.argv == (sys.executable, "-c", "pass")
    assert cfg.cwd == tmp_path  # the directory holding config/
    assert cfg.health is None
    assert cfg.daemon.max_restart_attempts == 3


def test_instance_overrides_settings_defaults(tmp_path: Path) -> None:
    settings_file = write(
        tmp_path / "s.json", {"restart_delay": 7, "environment": {"A": "1", "B": "1"}}
    )
    settings = load_settings(settings_file)
    data = {
        "metadata": {"instance_id": "bot-1"},
        "daemon_config": {
            "script_path": "bot.py",
            "bot_args": ["--x"],
            "max_restart_attempts": 9,
            "environment": {"B": "2"},
            "web_port": 5050,
        },
    }
    cfg = load_instance(write(tmp_path / "i.json", data), settings)
    assert cfg.name == "bot-1"
    assert cfg.daemon.restart_delay == 7
    assert cfg.daemon.max_restart_attempts == 9
    assert cfg.env == {"A": "1", "B": "2"}
    assert cfg.argv == (sys.executable, "bot.py", "--x")
    assert cfg.health is not None and cfg.health.url == "http://127.0.0.1:5050/health"


def test_seed_boolean_auto_restart(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path / "s.json", {"auto_restart": False}))
    assert settings.auto_restart == "never"


def test_json_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.json", '{\n  "daemon_config": {\n    "command": [1,]\n}')
    with pytest.raises(ConfigError) as err:
        load_instance(path, load_settings(None))
    assert "line 3" in str(err.value) and "column" in str(err.value)
    assert str(path) in str(err.value)


def test_duplicate_json_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "d.json", '{"restart_delay": 1, "restart_delay": 2}')
    with pytest.raises(ConfigError, match="duplicate key 'restart_delay'"):
        load_settings(path)


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path / "s.json", {"max_restart_attempt": 3})
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert err.value.loc == "max_restart_attempt"
    assert "did you mean 'max_restart_attempts'" in str(err.value)


def test_unknown_nested_key(tmp_path: Path) -> None:
    path = write(tmp_path / "s.json", {"logging": {"rotate_bm": 5}})
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert err.value.loc == "logging.rotate_bm"
    assert "did you mean 'rotate_mb'" in str(err.value)


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    path = write(tmp_path / "i.json", {"daemon_config": {"command": ["x"], "stop_timeout": "soon"}})
    with pytest.raises(ConfigError) as err:
        load_instance(path, load_settings(None))
    assert err.value.loc == "daemon_config.stop_timeout"
    assert err.value.exit_code == 2


def test_out_of_range_value(tmp_path: Path) -> None:
    path = write(tmp_path / "i.json", {"daemon_config": {"command": ["x"], "web_port": 70000}})
    with pytest.raises(ConfigError) as err:
        load_instance(path, load_settings(None))
    assert err.value.loc == "daemon_config.web_port"
    assert "65535" in str(err.value)


def test_missing_program(tmp_path: Path) -> None:
    path = write(tmp_path / "i.json", {"metadata": {"name": "x"}})
    with pytest.raises(ConfigError, match="no program to run"):
        load_instance(path, load_settings(None))


def test_unset_variable_names_variable_file_and_path(tmp_path: Path) -> None:
    path = write(tmp_path / "i.json", {"daemon_config": {"command": ["run", "${NOPE_VAR}"]}})
    with pytest.raises(ConfigError) as err:
        load_instance(path, load_settings(None), env={})
    assert "NOPE_VAR" in str(err.value)
    assert err.value.loc == "daemon_config.command[1]"
    assert err.value.file == str(path)


def test_variable_default_and_escape() -> None:
    data = {"a": "${X:-fallback}", "b": ["${Y}/bin"], "c": "$$HOME", "d": 5}
    assert substitute(data, {"Y": "/opt"}) == {
        "a": "fallback",
        "b": ["/opt/bin"],
        "c": "$HOME",
        "d": 5,
    }


def test_duplicate_instance_id_and_port_across_files(tmp_path: Path) -> None:
    folder = tmp_path / "active"
    write(folder / "a.json", {"metadata": {"instance_id": "same"}, **PROGRAM})
    write(folder / "b.json", {"metadata": {"instance_id": "same"}, **PROGRAM})
    with pytest.raises(ConfigError) as err:
        load_active(folder, load_settings(None))
    assert err.value.loc == "metadata.instance_id"
    assert "a.json" in str(err.value)
    (folder / "b.json").unlink()
    port = {"daemon_config": {"command": ["x"], "web_port": 5001}}
    write(folder / "c.json", port)
    write(folder / "d.json", port)
    with pytest.raises(ConfigError) as err:
        load_active(folder, load_settings(None))
    assert err.value.loc == "daemon_config.web_port"


def test_bad_file_stem_needs_instance_id(tmp_path: Path) -> None:
    path = write(tmp_path / "my bot.json", PROGRAM)
    with pytest.raises(ConfigError) as err:
        load_instance(path, load_settings(None))
    assert err.value.loc == "metadata.instance_id"


def test_secrets_are_collected_and_never_dumped(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.json",
        {"notifications": {"telegram": {"bot_token": "123:SECRETTOKEN"}}},
    )
    settings = load_settings(path)
    assert "123:SECRETTOKEN" in secret_values(settings)
    assert "SECRETTOKEN" not in settings.model_dump_json()
    assert "SECRETTOKEN" not in repr(settings)


def test_world_readable_secret_file_warns(tmp_path: Path) -> None:
    data = {
        **PROGRAM,
        "exchange_config": {"api_key": "public-key-b64", "api_secret": "literal-secret"},
    }
    path = write(tmp_path / "i.json", data)
    os.chmod(path, 0o644)
    cfg = load_instance(path, load_settings(None))
    assert any("chmod 600" in w for w in cfg.warnings)
    os.chmod(path, 0o600)
    assert load_instance(path, load_settings(None)).warnings == ()
    # A secret that comes from the environment is not in the file: no warning.
    write(path, {**PROGRAM, "exchange_config": {"api_secret": "${S}"}})
    os.chmod(path, 0o644)
    assert load_instance(path, load_settings(None), env={"S": "long-enough"}).warnings == ()


def test_secret_value_not_echoed_in_error(tmp_path: Path) -> None:
    path = write(tmp_path / "i.json", {**PROGRAM, "exchange_config": {"api_secret": 12345678}})
    with pytest.raises(ConfigError) as err:
        load_instance(path, load_settings(None))
    assert "12345678" not in str(err.value)


def test_reserved_names_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "i.json", {"metadata": {"instance_id": "keeper"}, **PROGRAM})
    with pytest.raises(ConfigError) as err:
        load_instance(path, load_settings(None))
    assert err.value.loc == "metadata.instance_id" and "reserved" in str(err.value)


def test_probe_url_is_checked(tmp_path: Path) -> None:
    data = {"daemon_config": {"command": ["x"], "health_check": {"url": "http://h:99999/x"}}}
    with pytest.raises(ConfigError) as err:
        load_instance(write(tmp_path / "i.json", data), load_settings(None))
    assert err.value.loc == "daemon_config.health_check.url"


def test_order_timeout_must_outlast_the_signature_window(tmp_path: Path) -> None:
    data = {**PROGRAM, "exchange_config": {"window_ms": 60000, "timeout_s": 1}}
    with pytest.raises(ConfigError) as err:
        load_instance(write(tmp_path / "i.json", data), load_settings(None))
    assert err.value.loc == "exchange_config.timeout_s"


def test_too_short_secret_warns(tmp_path: Path) -> None:
    path = write(tmp_path / "i.json", {**PROGRAM, "exchange_config": {"api_secret": "${S}"}})
    cfg = load_instance(path, load_settings(None), env={"S": "abc"})
    assert any("exchange_config.api_secret is shorter than 6" in w for w in cfg.warnings)


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("base_url", "api.backpack.exchange"),
        ("base_url", "ftp://127.0.0.1:8686"),
        ("base_url", "http://"),
        ("ws_url", "127.0.0.1:8686/ws"),
        ("ws_url", "http://127.0.0.1:8686/ws"),
    ],
)
def test_an_exchange_url_without_its_scheme_or_host_is_refused(
    tmp_path: Path, key: str, url: str
) -> None:
    """It passed before, and the bot then died on its first request (exit 1, restarted for
    ever) instead of the file being refused with the field and the reason."""
    data = {
        "metadata": {"instance_id": "g", "exchange": "paper", "symbol": "SOL_USDC"},
        "daemon_config": {"web_port": 5051},
        "exchange_config": {key: url},
        "strategy_config": {
            "grid_lower_price": "90",
            "grid_upper_price": "110",
            "grid_num": 5,
            "order_quantity": "1",
        },
    }
    with pytest.raises(ConfigError) as err:
        load_instance(write(tmp_path / "config/active/g.json", data), load_settings(None))
    assert f"exchange_config.{key}" in str(err.value) and "absolute" in str(err.value)
