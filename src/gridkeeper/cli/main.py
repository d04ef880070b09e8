"""`gridkeeper` entry point.

Command modules are imported only when their command runs, so `gridkeeper status` does not pay
for the exchange or the bot's imports. Each entry maps a command name to `module:attribute`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click

from gridkeeper import __version__
from gridkeeper.errors import GridkeeperError

# name -> (module, attribute, one-line help). Modules own their commands; this file only routes.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "config": ("gridkeeper.cli.config_cmd", "config", "Validate configs; print their JSON Schema."),
    "start": ("gridkeeper.cli.keeper_cmd", "start", "Start instances (and the keeper if needed)."),
    "stop": ("gridkeeper.cli.stop_cmd", "stop", "Stop instances gracefully."),
    "restart": ("gridkeeper.cli.keeper_cmd", "restart", "Restart instances (no target: all)."),
    "status": ("gridkeeper.cli.status_cmd", "status", "Show instance status."),
    "list": ("gridkeeper.cli.status_cmd", "list_", "List instances."),
    "logs": ("gridkeeper.cli.status_cmd", "logs", "Show or follow an instance's logs."),
    "profit": ("gridkeeper.cli.profit_cmd", "profit", "Profit per grid and in total, daily."),
    "reload": ("gridkeeper.cli.keeper_cmd", "reload", "Re-read configs; restart only changed."),
    "shutdown": ("gridkeeper.cli.keeper_cmd", "shutdown", "Stop every instance, then the keeper."),
    "keeper": ("gridkeeper.cli.keeper_cmd", "keeper", "Run the keeper daemon itself."),
    "startup": ("gridkeeper.cli.startup_cmd", "startup", "Install the systemd unit (boot)."),
    "backtest": ("gridkeeper.cli.backtest_cmd", "backtest", "Backtest a grid on recorded prices."),
    "exchange": ("gridkeeper.cli.exchange_cmd", "exchange", "Serve the paper exchange; keygen."),
    "bot": ("gridkeeper.cli.bot_cmd", "bot", "Run one grid bot (what the keeper runs)."),
    "grid": ("gridkeeper.cli.grid_cmd", "grid", "Show or adjust a running grid's range."),
    "monitor": ("gridkeeper.cli.monitor_cmd", "monitor", "Run the monitor."),
    "alerts": ("gridkeeper.cli.monitor_cmd", "alerts", "Alert history, ack and silences."),
    "alert": ("gridkeeper.cli.monitor_cmd", "alert", "Raise or resolve a custom alert."),
    "metrics": ("gridkeeper.cli.monitor_cmd", "metrics", "Metrics history."),
    "web": ("gridkeeper.cli.web_cmd", "web", "Serve the web dashboard; `web url` for the link."),
    "init": ("gridkeeper.cli.init_cmd", "init", "Write a config tree to start from."),
    "new": ("gridkeeper.cli.new_cmd", "new", "Write a grid config, checked against the market."),
    "completion": (
        "gridkeeper.cli.completion_cmd",
        "completion",
        "Print the shell completion script (bash|zsh|fish).",
    ),
    "run-demo": ("gridkeeper.cli.demo_cmd", "run_demo", "Start the paper exchange and demo bots."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attr, _ = COMMANDS[cmd_name]
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                # A command whose module is not part of this build yet is simply unknown.
                if exc.name != module_name:
                    raise
                return None
            command = getattr(module, attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text comes from the table so listing commands imports nothing heavy.
        rows = [(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]
        rows += [
            (name, cmd.get_short_help_str())
            for name, cmd in sorted(self.commands.items())
            if name not in COMMANDS
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gridkeeper")
def cli() -> None:
    """Keep grid-trading bots running and know the moment something goes wrong."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code instead of exiting (tests call this)."""
    import os

    # NO_COLOR (https://no-color.org): click strips the styles of every secho/style.
    color = False if os.environ.get("NO_COLOR") else None
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            standalone_mode=False,
            prog_name="gridkeeper",
            color=color,
        )
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except GridkeeperError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())
