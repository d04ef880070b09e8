"""Where ${VAR} values come from: command env > instance env_file > settings env_file > .env >
kept > the process's environment (gridkeeper.config.envlayers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gridkeeper.config import load_instance, load_settings
from gridkeeper.errors import ConfigError


def project(tmp_path: Path, daemon: dict[str, object] | None = None) -> Path:
    (tmp_path / "config" / "active").mkdir(parents=True)
    doc = {
        "metadata": {"instance_id": "bot"},
        "daemon_config": {"command": ["prog", "${KEY}"], **(daemon or {})},
    }
    path = tmp_path / "config" / "active" / "bot.json"
    path.write_text(json.dumps(doc))
    return path


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_precedence_of_every_layer(tmp_path: Path) -> None:
    config = project(tmp_path, {"env_file": "bot.env"})
    write(tmp_path / ".env", "KEY=dotenv\n")
    settings_file = tmp_path / "config" / "daemon_config.json"
    settings_file.write_text(json.dumps({"env_file": "keys.env"}))
    write(tmp_path / "config" / "keys.env", "")
    write(tmp_path / "bot.env", "OTHER=1\n")
    settings = load_settings(settings_file, env={})
    base = {"KEY": "process"}

    def key(**kw: object) -> str:
        return load_instance(config, settings, base, **kw).argv[1]  # type: ignore[arg-type]

    assert key(kept_env={"KEY": "kept"}) == "dotenv"
    write(tmp_path / "config" / "keys.env", "export KEY='settings file'\n")
    assert key(kept_env={"KEY": "kept"}) == "settings file"
    write(tmp_path / "bot.env", '# comment\nKEY="instance file"\n')
    assert key() == "instance file"
    assert key(command_env={"KEY": "command"}) == "command"
    cfg = load_instance(config, settings, base, command_env={"KEY": "command"})
    assert cfg.ref_env == {"KEY": "command"} and cfg.kept_env == {"KEY": "command"}
    cfg = load_instance(config, settings, base)
    assert cfg.ref_env == {"KEY": "instance file"} and cfg.kept_env == {}


def test_kept_value_beats_the_process_environment_only(tmp_path: Path) -> None:
    config = project(tmp_path)
    settings = load_settings(None)
    cfg = load_instance(config, settings, {"KEY": "process"}, kept_env={"KEY": "kept"})
    assert cfg.argv[1] == "kept" and cfg.kept_env == {"KEY": "kept"}
    cfg = load_instance(config, settings, {"KEY": "process"})
    assert cfg.argv[1] == "process" and cfg.ref_env == {}  # the program inherits it anyway


def test_readable_env_file_warns_with_the_fix(tmp_path: Path) -> None:
    config = project(tmp_path, {"env_file": "bot.env"})
    env_file = write(tmp_path / "bot.env", "KEY=secret-value\n", mode=0o644)
    cfg = load_instance(config, load_settings(None), {})
    assert any(f"chmod 600 {env_file}" in w for w in cfg.warnings)
    assert all("secret-value" not in w for w in cfg.warnings)
    env_file.chmod(0o600)
    assert not load_instance(config, load_settings(None), {}).warnings


def test_missing_named_env_file_is_an_error_missing_dotenv_is_not(tmp_path: Path) -> None:
    config = project(tmp_path, {"env_file": "nope.env"})
    with pytest.raises(ConfigError, match="instance env_file not found"):
        load_instance(config, load_settings(None), {"KEY": "x"})
    assert load_instance(project(tmp_path / "b"), load_settings(None), {"KEY": "x"}).argv[1] == "x"


def test_settings_file_reads_its_own_env_file(tmp_path: Path) -> None:
    settings_file = tmp_path / "daemon_config.json"
    settings_file.write_text(json.dumps({"env_file": "k.env", "log_dir": "${LOGS}"}))
    write(tmp_path / "k.env", "LOGS=from-file\n")
    assert load_settings(settings_file, env={}).log_dir == "from-file"
    got = load_settings(settings_file, env={}, command_env={"LOGS": "cmd"})
    assert got.log_dir == "cmd"
    assert got.env_file == str(tmp_path / "k.env")
