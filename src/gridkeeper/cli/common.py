"""Options and output helpers every command module shares."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from gridkeeper.keeper.client import KeeperClient

F = TypeVar("F", bound=Callable[..., Any])


def home_option(func: F) -> F:
    """`--home DIR` (default $GRIDKEEPER_HOME, else ~/.gridkeeper)."""
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Keeper home (default $GRIDKEEPER_HOME or ~/.gridkeeper).",
    )(func)


def configs_option(func: F) -> F:
    """`--config FILE` (repeatable): instances named by their config file."""
    return click.option(
        "--config",
        "configs",
        multiple=True,
        type=click.Path(path_type=Path),
        help="Instance config file (repeatable).",
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


# Shell and session plumbing no config refers to: not sent to the keeper (docs/keeper.md).
_SKIP_NAMES = frozenset(
    {
        "_",
        "PWD",
        "OLDPWD",
        "SHLVL",
        "PS1",
        "PS2",
        "PS4",
        "PROMPT_COMMAND",
        "LS_COLORS",
        "LSCOLORS",
        "TERM",
        "TERMCAP",
        "COLORTERM",
        "DISPLAY",
        "WINDOWID",
        "MAIL",
        "LESSOPEN",
        "LESSCLOSE",
        "TMUX",
        "TMUX_PANE",
        "STY",
        "WINDOW",
    }
)
_SKIP_PREFIXES = ("SSH_", "XDG_", "DBUS_", "GPG_", "HIST", "BASH_FUNC_", "GRIDKEEPER_", "VSCODE_")


def command_env() -> dict[str, str]:
    """This command's environment as sent with start/restart/reload, so `${VAR}` in a config
    resolve here and not in the environment of a keeper started earlier. The keeper keeps only
    the variables the configs refer to, and never logs them."""
    import os

    return {
        k: v
        for k, v in os.environ.items()
        if k not in _SKIP_NAMES and not k.startswith(_SKIP_PREFIXES)
    }


def keeper_for(home: Path, settings_path: Path | None) -> KeeperClient:
    """The keeper of `home` (a KeeperClient), started when none runs - and then the command
    says so on stderr: an operator who mistyped --home or $GRIDKEEPER_HOME would otherwise get a
    second, empty keeper without noticing."""
    from gridkeeper.keeper.client import KeeperClient, ensure_keeper

    if KeeperClient(home).ping() is not None:
        return ensure_keeper(home, settings_path)
    new = not (home / "state.db").exists()
    client = ensure_keeper(home, settings_path)
    info = client.ping() or {}
    pid = f" (pid {info['pid']})" if info.get("pid") else ""
    note = ": a new home, no instance ran here before" if new else ""
    click.secho(f"started keeper in {home}{pid}{note}", fg="cyan", err=True)
    return client
