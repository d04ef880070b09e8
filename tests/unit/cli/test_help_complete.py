"""Every command, option and argument of the CLI explains itself: walks the whole click tree."""

from __future__ import annotations

from collections.abc import Iterator

import click

from gridkeeper.cli.main import COMMANDS, cli


def _walk(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, f"{path} {name}")


def test_every_option_and_argument_has_help() -> None:
    missing: list[str] = []
    seen = 0
    for path, command in _walk(cli, "gridkeeper"):
        seen += 1
        if not (command.help or command.short_help):
            missing.append(f"{path}: no help text")
        text = (command.help or "").upper()
        for param in command.params:
            if isinstance(param, click.Option):
                if not param.hidden and not param.help:
                    missing.append(f"{path} {param.opts[0]}: no help")
            elif isinstance(param, click.Argument):
                # click arguments have no help=; the command's text must name them.
                names = {(param.name or "").upper(), *str(param.metavar or "").upper().split("|")}
                names |= {n.replace("_", "-") for n in names}
                if not any(n and n in text for n in names):
                    missing.append(f"{path} {param.name.upper() if param.name else '?'}: not named")
    assert seen > len(COMMANDS)  # subcommands were walked too
    assert not missing, "\n".join(missing)
