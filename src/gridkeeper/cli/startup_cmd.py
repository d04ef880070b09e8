"""`gridkeeper startup`: install (or print, or remove) the systemd unit that runs the keeper at
boot, in the foreground, like `pm2 startup`."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from gridkeeper.cli.common import home_option, settings_option
from gridkeeper.keeper.unit import UnitSpec, render
from gridkeeper.paths import find_settings, resolve_home


def _stop_timeout(spath: Path | None) -> tuple[float, Path]:
    """The longest stop_timeout of the settings and the active instances; the log dir."""
    from gridkeeper.config import instances_dir, load_instance, load_settings

    settings = load_settings(spath)
    longest = settings.stop_timeout
    folder = instances_dir(spath, settings)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            longest = max(longest, load_instance(path, settings).daemon.stop_timeout)
        except Exception as exc:  # a broken config must not block the unit; the keeper says why
            click.secho(f"warning: {path}: {exc}", fg="yellow", err=True)
    return longest, Path(settings.log_dir).expanduser()


def _unit_dir(system: bool) -> Path:
    if system:
        return Path("/etc/systemd/system")
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"


def _systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def _systemctl(system: bool, *args: str) -> None:
    argv = ["systemctl", *([] if system else ["--user"]), *args]
    if not _systemd_running():
        click.echo(f"  {' '.join(argv)}")
        return
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        click.secho(f"{' '.join(argv)} failed: {proc.stderr.strip()}", fg="red", err=True)


@click.command()
@click.option("--user", "mode", flag_value="user", help="A user unit (default when not root).")
@click.option("--system", "mode", flag_value="system", help="A system unit (default as root).")
@click.option("--print", "print_", is_flag=True, help="Print the unit; write nothing.")
@click.option("--remove", is_flag=True, help="Disable and remove the unit.")
@click.option("--name", default="gridkeeper", show_default=True, help="The unit's name.")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="EnvironmentFile for API keys (default <home>/gridkeeper.env).",
)
@click.option(
    "--run-as", default=None, help="System units: the account (default $SUDO_USER or you)."
)
@click.option(
    "--writable",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Another path the bots write to (ProtectSystem=strict makes the rest read-only).",
)
@click.option("--unit-dir", type=click.Path(path_type=Path), default=None, hidden=True)
@home_option
@settings_option
def startup(
    mode: str | None,
    print_: bool,
    remove: bool,
    name: str,
    env_file: Path | None,
    run_as: str | None,
    writable: tuple[Path, ...],
    unit_dir: Path | None,
    home: Path | None,
    settings_path: Path | None,
) -> None:
    """Run the keeper at boot under systemd (foreground, Type=notify, restarts on failure).

    \b
    Examples:
      gridkeeper startup --print              # see the unit
      gridkeeper startup                      # install and enable it (user unit when not root)
      sudo gridkeeper startup --system --run-as bots
      gridkeeper startup --remove
    """
    system = (mode or ("system" if os.geteuid() == 0 else "user")) == "system"
    target = (unit_dir or _unit_dir(system)) / f"{name}.service"
    if remove:
        _systemctl(system, "disable", "--now", f"{name}.service")
        target.unlink(missing_ok=True)
        _systemctl(system, "daemon-reload")
        click.echo(f"removed {target}")
        return
    home_dir = resolve_home(home)
    spath = find_settings(settings_path)
    longest, log_dir = _stop_timeout(spath)
    spec = UnitSpec(
        python=sys.executable,
        home=home_dir,
        log_dir=log_dir if log_dir.is_absolute() else home_dir / log_dir,
        workdir=Path.cwd(),
        settings=spath,
        env_file=env_file.absolute() if env_file else home_dir / "gridkeeper.env",
        stop_timeout=longest,
        system=system,
        user=(run_as or os.environ.get("SUDO_USER") or getpass.getuser()) if system else None,
        writable=tuple(p.absolute() for p in writable),
    )
    text = render(spec)
    if print_:
        click.echo(text, nl=False)
        return
    # ReadWritePaths must exist when the service starts, or its namespace cannot be set up.
    for path in (spec.home, spec.log_dir):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if spec.user and os.geteuid() == 0:
            shutil.chown(path, spec.user)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    click.echo(f"wrote {target}")
    if not _systemd_running():
        click.echo("systemd is not running here; to enable it on a systemd host:")
    _systemctl(system, "daemon-reload")
    _systemctl(system, "enable", "--now", f"{name}.service")
    if not system:
        who = getpass.getuser()
        click.echo(f"to start it at boot before you log in: loginctl enable-linger {who}")
