"""Where a keeper home lives and what it holds."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "GRIDKEEPER_HOME"


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--home` wins, then `$GRIDKEEPER_HOME`, then `~/.gridkeeper`; always absolute."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return (Path.home() / ".gridkeeper").resolve()


def project_root() -> Path:
    """The directory holding `config/` for relative paths: the current directory."""
    return Path.cwd()
