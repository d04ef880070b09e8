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


@exchange.command(
    epilog="""\b
Examples:
  gridkeeper exchange record SOL_USDC SOL_USDC_PERP --out prices.csv --duration 3600
  gridkeeper exchange record SOL_USDC --out day.csv --source klines --kline-interval 1m
  gridkeeper exchange record SOL_USDC --out local.csv --source ticker \\
      --base-url http://127.0.0.1:8686 --interval 0.5 --count 100

\b
Replay the file with price_source {"kind": "replay", "csv_path": "prices.csv", "speed": 10}
(its own timing, 10x faster) or {"kind": "csv", ...} (one row per interval_s).""",
)
@click.argument("symbols", nargs=-1, required=True)
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False), help="CSV file to write."
)
@click.option(
    "--base-url",
    default="https://api.backpack.exchange",
    show_default=True,
    help="Backpack-compatible REST base URL (the paper exchange's works too).",
)
@click.option(
    "--source",
    type=click.Choice(["trades", "ticker", "klines"]),
    default="trades",
    show_default=True,
    help="trades: every public trade (polled); ticker: the last price per poll; "
    "klines: closes over the past --duration, fetched once.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds to record (klines: how far back; default one day). Default: until Ctrl-C.",
)
@click.option(
    "--count", type=click.IntRange(min=1), default=None, help="Stop after this many rows."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=1.0,
    show_default=True,
    help="Seconds between polls (trades, ticker).",
)
@click.option(
    "--kline-interval",
    default="1m",
    show_default=True,
    help="klines: 1m, 5m, 15m, 1h, 1d ...",
)
def record(
    symbols: tuple[str, ...],
    out: str,
    base_url: str,
    source: str,
    duration: float | None,
    count: int | None,
    interval: float,
    kline_interval: str,
) -> None:
    """Record public prices of SYMBOLS into a CSV the paper exchange replays.

    The file has a header `timestamp,SYMBOL...` (timestamp in ms); each row holds the price of
    every symbol that traded at that instant. Ctrl-C stops a recording and keeps what it wrote.
    """
    from gridkeeper.exchange.recorder import RecorderError, RecordOptions
    from gridkeeper.exchange.recorder import record as run_record

    if duration is not None and count is not None and source != "klines":
        raise click.UsageError("give --duration or --count, not both")
    options = RecordOptions(
        symbols=symbols,
        out=Path(out),
        base_url=base_url,
        source=source,  # type: ignore[arg-type]  # click.Choice checked it
        interval_s=interval,
        duration_s=duration,
        count=count,
        kline_interval=kline_interval,
    )
    click.echo(f"recording {', '.join(symbols)} from {base_url} ({source}) into {out}", err=True)
    try:
        written = asyncio.run(run_record(options, warn=lambda m: click.echo(m, err=True)))
    except KeyboardInterrupt:
        click.echo(f"interrupted; {out} keeps the rows written so far", err=True)
        return
    except (RecorderError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{written} rows written to {out}", err=True)
