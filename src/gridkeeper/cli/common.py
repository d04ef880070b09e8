"""Options and output helpers every command module shares."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def home_option(func: F) -> F:
    """`--home DIR` (default $GRIDKEEPER_HOME, else ~/.gridkeeper)."""
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Keeper home (default $GRIDKEEPER_HOME or ~/.gridkeeper).",
    )(func)


def settings_option(func: F) -> F:
    """`--settings FILE` (default $GRIDKEEPER_SETTINGS, else ./config/daemon_config.json)."""
    return click.option(
        "--settings",
        "settings_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Settings file (default $GRIDKEEPER_SETTINGS or ./config/daemon_config.json).",
    )(func)


def warn(lines: Iterable[str]) -> None:
    for line in lines:
        click.secho(f"warning: {line}", fg="yellow", err=True)
