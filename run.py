"""Seed compatibility: `python run.py --cli` opens the operator menu; the seed's strategy flags
(`--symbol ... --strategy perp_grid --grid-lower ...`) run one grid bot (gridkeeper.cli.legacy);
`python run.py --config FILE` runs the grid of an instance file (what a seed instance's
`script_path: run.py` means to the keeper).

The menu (gridkeeper.cli.menu) is a thin prompt loop over the keeper's socket API and each bot's
control API; entry 10 adjusts a running grid's range where the seed document puts it, now with
a preview and a confirmation. See docs/migrating.md and docs/operating.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

import click

from gridkeeper.cli.menu import MENU, run_menu
from gridkeeper.paths import resolve_home

__all__ = ["MENU", "entry", "main"]


@click.command()
@click.option("--cli", "interactive", is_flag=True, help="Open the interactive operator menu.")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keeper home (default $GRIDKEEPER_HOME or ~/.gridkeeper).",
)
def main(interactive: bool, home: Path | None) -> None:
    """Seed entry point. Use `--cli` for the menu; everything else is `gridkeeper --help`."""
    if not interactive:
        click.echo("usage: python run.py --cli   (or see `gridkeeper --help`)")
        return
    run_menu(resolve_home(home))


def entry(argv: list[str]) -> int:
    """Which of the seed's modes the arguments ask for."""
    from gridkeeper.cli.legacy import is_strategy_mode
    from gridkeeper.cli.legacy import run as run_legacy
    from gridkeeper.cli.main import main as gridkeeper_main

    if "--cli" not in argv and is_strategy_mode(argv):
        return run_legacy(argv)
    if "--cli" not in argv and any(a == "--config" or a.startswith("--config=") for a in argv):
        return gridkeeper_main(["bot", *argv])
    main(args=argv, standalone_mode=False)
    return 0


if __name__ == "__main__":
    sys.exit(entry(sys.argv[1:]))
