"""`gridkeeper init [DIR]`: a working config tree from the packaged files, never overwriting."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gridkeeper.paths import DEFAULT_SETTINGS
from gridkeeper.resources import config_file, walk

ENV_FILE = "gridkeeper.env"
ENV_TEXT = """\
# API keys and notification secrets, one KEY=value a line. Configs refer to them as ${NAME}; the
# values never go into a config file. Load before starting:  set -a; . ./gridkeeper.env; set +a
# (`gridkeeper startup` installs a systemd unit that reads <home>/gridkeeper.env).
# BACKPACK_KEY=
# BACKPACK_SECRET=
# SMTP_USER=
# SMTP_PASSWORD=
# TELEGRAM_BOT_TOKEN=
# TELEGRAM_CHAT_ID=
# WEBHOOK_SECRET=
"""

# What `init` writes (destination -> packaged source). The paper exchange is active so a paper
# grid (`gridkeeper new --exchange paper`) has a market at once; the demo grids become templates.
TREE = {
    "daemon_config.json": "daemon_config.json",
    "paper_exchange.json": "paper_exchange.json",
    "active/paper_exchange.json": "active/paper_exchange.json",
    "templates/paper_sol_spot_grid.json": "active/paper_sol_spot_grid.json",
    "templates/paper_sol_perp_grid.json": "active/paper_sol_perp_grid.json",
}


def tree() -> dict[str, str]:
    """Every file `init` writes, with each packaged template added."""
    files = dict(TREE)
    for rel, _ in walk():
        if rel.startswith("templates/"):
            files[rel] = rel
    return files


def _write_new(path: Path, data: bytes, mode: int = 0o644) -> bool:
    """Create `path` with `data`; False (and nothing written) when it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    if mode == 0o600:
        path.chmod(mode)  # exactly owner-only, whatever the umask
    return True


@click.command("init")
@click.argument(
    "directory", required=False, type=click.Path(file_okay=False, path_type=Path), default=None
)
def init(directory: Path | None) -> None:
    """Write a config tree into DIRECTORY (default ./config): the settings file, active/ with
    the local paper exchange, templates/, and gridkeeper.env (mode 600) for your keys. A file
    that exists is kept, never overwritten.

    Example: gridkeeper init  (then: gridkeeper new)
    """
    target = (directory or DEFAULT_SETTINGS.parent).expanduser().absolute()
    (target / "active").mkdir(parents=True, exist_ok=True)
    kept: list[Path] = []
    for dest, source in tree().items():
        path = target / dest
        if _write_new(path, config_file(source).read_bytes()):
            click.echo(f"wrote {path}")
        else:
            kept.append(path)
    env_path = target / ENV_FILE
    if _write_new(env_path, ENV_TEXT.encode(), 0o600):
        click.echo(f"wrote {env_path}  (mode 600)")
    else:
        kept.append(env_path)
    for path in kept:
        click.secho(f"kept  {path}  (exists; not overwritten)", fg="yellow")
    settings = target / "daemon_config.json"
    click.echo("\nNext:")
    if settings.resolve() != (Path.cwd() / DEFAULT_SETTINGS).resolve():
        click.echo(
            f"  gridkeeper finds this tree from {target.parent} (./config/), or anywhere with:\n"
            f"    export GRIDKEEPER_SETTINGS={settings}"
        )
    click.echo(
        f"  1. Backpack keys: fill in {env_path}, then  set -a; . {env_path}; set +a\n"
        "     (configs name them ${BACKPACK_KEY} / ${BACKPACK_SECRET}; keys never go into them)\n"
        "  2. gridkeeper new          # a grid config, checked against the market as you answer\n"
        f"     (or copy a file from {target / 'templates'} into {target / 'active'} and edit it)\n"
        "  3. gridkeeper config check # validate everything in active/\n"
        "  4. gridkeeper start -d     # start it all in the background; gridkeeper status\n"
        f"  Trading only on Backpack? Remove {target / 'active' / 'paper_exchange.json'}."
    )
