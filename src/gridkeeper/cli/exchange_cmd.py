"""`gridkeeper exchange`: serve the paper exchange; `gridkeeper exchange keygen`: a key pair."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from gridkeeper.paths import resolve_home

DEFAULT_CONFIG = "config/paper_exchange.json"


@click.group(name="exchange", invoke_without_command=True)
@click.option(
    "--config",
    "config_path",
    default=DEFAULT_CONFIG,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Paper exchange config file.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", default=8686, show_default=True, type=click.IntRange(0, 65535), help="Port to bind."
)
@click.option(
    "--home",
    "home_opt",
    default=None,
    type=click.Path(file_okay=False),
    help="Keeper home (default $GRIDKEEPER_HOME or ~/.gridkeeper).",
)
@click.pass_context
def exchange(
    ctx: click.Context, config_path: str, host: str, port: int, home_opt: str | None
) -> int:
    """Serve the Backpack-compatible paper exchange (REST + websocket at /ws)."""
    if ctx.invoked_subcommand is not None:
        return 0
    from gridkeeper.config.loader import load_model
    from gridkeeper.config.paper_exchange import PaperExchangeConfig
    from gridkeeper.exchange.paper.server import make_server

    path = Path(config_path).resolve()
    config = load_model(path, PaperExchangeConfig)
    home = resolve_home(home_opt)
    server, ex = make_server(config, home, host=host, port=port, config_dir=path.parent)
    click.echo(
        f"paper exchange on http://{host}:{port} (ws://{host}:{port}/ws), "
        f"state {home / 'paper' / 'exchange.db'}, accounts: "
        + ", ".join(f"{a.name}={a.api_key}" for a in ex.accounts),
        err=True,
    )
    asyncio.run(server.serve())
    return 0


@exchange.command()
def keygen() -> None:
    """Print a new ED25519 key pair: the base64 seed (secret) and the public key."""
    from gridkeeper.exchange.signing import keygen as make_pair

    secret, public = make_pair()
    click.echo(f"api_secret (seed): {secret}")
    click.echo(f"api_key (public):  {public}")
