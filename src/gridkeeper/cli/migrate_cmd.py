"""`gridkeeper config migrate FILE... [--write]`: show, then write, a seed file in our names."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click
import orjson

from gridkeeper.errors import ConfigError


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--write", is_flag=True, help="Write the cleaned files (each keeps a FILE.bak).")
def migrate(files: tuple[Path, ...], write: bool) -> None:
    """Show (or --write) seed instance files in gridkeeper's names: seed keys renamed, ignored
    and stray keys dropped, literal keys turned into ${BACKPACK_KEY} / ${BACKPACK_SECRET}.
    A settings file (config/daemon_config.json) gets its literal secrets (notification
    passwords and tokens) turned into ${SMTP_PASSWORD}, ${TELEGRAM_BOT_TOKEN}, ... references.

    \b
    Examples:
      gridkeeper config migrate config/active/*.json           # report and cleaned JSON
      gridkeeper config migrate config/active/*.json --write   # FILE.bak kept; 0600 if a key
      gridkeeper config migrate config/daemon_config.json      # settings: secrets -> ${VAR}
    """
    from gridkeeper.config.jsonfile import read_json
    from gridkeeper.config.loader import known_keys
    from gridkeeper.config.migrate import is_instance_file, migrate_settings
    from gridkeeper.config.migrate import migrate as clean

    failed = False
    for file in files:
        try:
            raw = read_json(file)
            if not is_instance_file(raw):
                result = migrate_settings(raw)  # a settings file: its secrets only
            else:
                result = clean(raw, known_keys(), file=str(file))
        except ConfigError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            failed = True
            continue
        click.secho(f"== {file}", bold=True)
        for line in result.report or ["nothing to change"]:
            click.echo(f"  {line}")
        for loc in result.literal_secrets:
            click.secho(
                f"warning: {file}: {loc} holds a literal key; keys belong in the environment "
                "or an env_file",
                fg="yellow",
                err=True,
            )
        text = orjson.dumps(result.doc, option=orjson.OPT_INDENT_2).decode() + "\n"
        if not write:
            if result.changed:
                click.echo(text)
            continue
        if not result.changed:
            continue
        backup = file.with_name(file.name + ".bak")
        shutil.copy2(file, backup)
        if result.literal_secrets:
            backup.chmod(0o600)  # the backup still holds the key
        mode = 0o600 if result.literal_secrets else (file.stat().st_mode & 0o777)
        tmp = file.with_name(f".{file.name}.migrate")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        tmp.chmod(mode)
        tmp.replace(file)
        click.echo(f"  written (backup: {backup}{', mode 0600' if result.literal_secrets else ''})")
    if failed:
        raise click.exceptions.Exit(2)
