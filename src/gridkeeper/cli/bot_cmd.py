"""`gridkeeper bot --config FILE`: run one grid bot (what the keeper runs for a grid instance).

The bot itself is gridkeeper.bot.main (no click, no pydantic); the keeper's
`python -m gridkeeper bot ...` reaches it through cli/fast.py without this module. This command
is the same entry for `--help` and unusual spellings of the options.

Exit codes: 0 after a graceful stop (SIGTERM/SIGINT; orders stay on the book and are adopted at
the next start), 78 for problems a restart cannot fix (bad config, refused keys, busy port,
insufficient funds), 1 for anything else (the keeper restarts it).
"""

from __future__ import annotations

from pathlib import Path

import click

from gridkeeper.cli.common import home_option, settings_option
from gridkeeper.paths import resolve_home


@click.command("bot")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The instance file (config/active/NAME.json).",
)
@home_option
@settings_option
def bot(config_path: Path, home: Path | None, settings_path: Path | None) -> int:
    """Run one grid bot with its control API on 127.0.0.1:<web_port>."""
    from gridkeeper.bot.main import main

    return main(config_path, resolve_home(home), settings_path)
