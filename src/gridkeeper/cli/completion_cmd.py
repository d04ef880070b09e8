"""`gridkeeper completion bash|zsh|fish`: the shell completion script, click's own.

Install: `gridkeeper completion bash > ~/.local/share/bash-completion/completions/gridkeeper`
(zsh: a file `_gridkeeper` on $fpath; fish: ~/.config/fish/completions/gridkeeper.fish).
The script calls `gridkeeper` with `_GRIDKEEPER_COMPLETE` set, so completions follow the
installed version's commands and options.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS), metavar="bash|zsh|fish")
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    Examples:
      gridkeeper completion bash > ~/.local/share/bash-completion/completions/gridkeeper
      gridkeeper completion zsh > ~/.zfunc/_gridkeeper
      gridkeeper completion fish > ~/.config/fish/completions/gridkeeper.fish
    """
    from gridkeeper.cli.main import cli

    cls = get_completion_class(shell)
    assert cls is not None  # click ships all three
    click.echo(cls(cli, {}, "gridkeeper", "_GRIDKEEPER_COMPLETE").source())
