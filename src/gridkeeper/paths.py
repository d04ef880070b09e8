"""Where a keeper home lives and what it holds."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "GRIDKEEPER_HOME"
SETTINGS_ENV = "GRIDKEEPER_SETTINGS"
DEFAULT_SETTINGS = Path("config/daemon_config.json")


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--home` wins, then `$GRIDKEEPER_HOME`, then `~/.gridkeeper`; always absolute."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return (Path.home() / ".gridkeeper").resolve()


def find_settings(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The settings file: the option, else $GRIDKEEPER_SETTINGS, else ./config/daemon_config.json
    when present, else None (built-in defaults). Light: `status` must not import pydantic."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(SETTINGS_ENV)
    if env:
        return Path(env).expanduser().resolve()
    if DEFAULT_SETTINGS.is_file():
        return DEFAULT_SETTINGS.resolve()
    return None
