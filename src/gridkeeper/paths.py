"""Where a keeper home lives and what it holds."""

from __future__ import annotations

import os
from pathlib import Path

from gridkeeper.errors import ConfigError, UsageError

HOME_ENV = "GRIDKEEPER_HOME"
SETTINGS_ENV = "GRIDKEEPER_SETTINGS"
DEFAULT_SETTINGS = Path("config/daemon_config.json")


def _absolute(path: str | os.PathLike[str], error: type[ConfigError] | type[UsageError]) -> Path:
    """Path.resolve(), with a symlink loop (RuntimeError on 3.11, OSError later) as `error`."""
    given = Path(path).expanduser()
    try:
        return given.resolve()
    except (RuntimeError, OSError) as exc:
        message = f"{given}: cannot resolve the path (a symlink loop?): {exc}"
        raise (ConfigError(message) if error is ConfigError else UsageError(message)) from None


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--home` wins, then `$GRIDKEEPER_HOME`, then `~/.gridkeeper`; always absolute."""
    if explicit:
        return _absolute(explicit, UsageError)
    env = os.environ.get(HOME_ENV)
    if env:
        return _absolute(env, UsageError)
    return _absolute(Path.home() / ".gridkeeper", UsageError)


def find_settings(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The settings file: the option, else $GRIDKEEPER_SETTINGS, else ./config/daemon_config.json
    when present, else None (built-in defaults). Light: `status` must not import pydantic."""
    if explicit:
        return _absolute(explicit, ConfigError)
    env = os.environ.get(SETTINGS_ENV)
    if env:
        return _absolute(env, ConfigError)
    if DEFAULT_SETTINGS.is_file():
        return _absolute(DEFAULT_SETTINGS, ConfigError)
    return None
