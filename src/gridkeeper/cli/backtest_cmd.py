"""`gridkeeper backtest`: a grid's strategy over recorded prices, in simulated time."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import click
import orjson


@click.command(
    epilog="""\b
Examples:
  gridkeeper backtest --config config/active/sol.json --data prices.csv
  gridkeeper backtest --config grid.json --data klines.json --from 2024-05-01 --to 2024-05-08 \\
      --report out.html
  gridkeeper backtest --config grid.json --data sample.csv --sweep 'grid_num=10:60:5' \\
      --sweep 'grid_lower_price=120,125,130' --rank return_on_capital --report sweep.html

See docs/backtest.md.""",
)
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="Instance config (metadata.symbol, metadata.strategy, strategy_config).",
)
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="Prices: the paper exchange's CSV, or klines (CSV with open/high/low/close, "
    "or Backpack's kline JSON).",
)
@click.option(
    "--exchange",
    "exchange_path",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="Paper exchange config: the market's tick, step, fees and band, and the "
    "account's balances (first account). Default: a generic market.",
)
@click.option(
    "--from", "start", default=None, help="First time played (ms, or YYYY-MM-DD[ HH:MM])."
)
@click.option("--to", "end", default=None, help="Last time played (same forms).")
@click.option(
    "--interval",
    "interval_s",
    default=1.0,
    show_default=True,
    type=float,
    help="Seconds between rows of a price CSV without a timestamp column.",
)
@click.option(
    "--capital", default=None, help="Capital for return_on_capital (default: the grid's need)."
)
@click.option(
    "--report",
    "report_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Write a self-contained HTML report here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--sweep",
    "sweeps",
    multiple=True,
    help="KEY=START:STOP:STEP or KEY=V1,V2 (a strategy_config key); repeat for more.",
)
@click.option(
    "--rank",
    "metric",
    default="total_pnl",
    show_default=True,
    help="Sweep: the metric to rank by (total_pnl, return_on_capital, max_drawdown, ...).",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="Sweep: worker processes (default: all cores).",
)
@click.option(
    "--cluster",
    default=None,
    envvar="GRIDKEEPER_DASK_SCHEDULER",
    help="Sweep: run the combinations on this Dask scheduler (tcp://HOST:8786) instead of "
    "local processes (needs the cluster extra).",
)
def backtest(
    config_path: str,
    data_path: str,
    exchange_path: str | None,
    start: str | None,
    end: str | None,
    interval_s: float,
    capital: str | None,
    report_path: str | None,
    as_json: bool,
    sweeps: tuple[str, ...],
    metric: str,
    workers: int | None,
    cluster: str | None,
) -> None:
    """Backtest a grid: the bot's own strategy against the paper matching engine."""
    from gridkeeper.backtest.data import DataError, load_prices, parse_time
    from gridkeeper.backtest.model import BacktestError
    from gridkeeper.backtest.report import html_report, sweep_html, sweep_text, text_summary
    from gridkeeper.backtest.setup import load_setup
    from gridkeeper.backtest.sim import run_backtest
    from gridkeeper.backtest.sweep import SweepError, parse_sweep, run_sweep

    try:
        start_ms = parse_time(start) if start else None
        end_ms = parse_time(end) if end else None
        raw = orjson.loads(Path(config_path).read_bytes())
        symbol = (raw.get("metadata") or {}).get("symbol")
        path = load_prices(Path(data_path), symbol=symbol, interval_s=interval_s).between(
            start_ms, end_ms
        )
        if not path.prices:
            raise click.ClickException("no prices in the selected period (--from/--to)")
        setup = load_setup(
            Path(config_path),
            Path(exchange_path) if exchange_path else None,
            first_price=path.prices[0],
            capital=Decimal(capital) if capital else None,
        )
        title = f"backtest {setup.name} ({setup.symbol})"
        if sweeps:
            parsed = [parse_sweep(s) for s in sweeps]
            rows = run_sweep(
                setup,
                Path(data_path),
                parsed,
                metric=metric,
                workers=workers,
                interval_s=interval_s,
                start_ms=start_ms,
                end_ms=end_ms,
                cluster=cluster,
            )
            keys = [k for k, _ in parsed]
            if report_path:
                Path(report_path).write_text(sweep_html(rows, keys, metric, title))
            if as_json:
                click.echo(orjson.dumps({"metric": metric, "results": rows}).decode())
            else:
                click.echo(sweep_text(rows, keys))
            return
        result = run_backtest(setup, path)
    except (DataError, BacktestError, SweepError, orjson.JSONDecodeError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    if report_path:
        Path(report_path).write_text(html_report(result, title))
    if as_json:
        click.echo(orjson.dumps(result.to_json()).decode())
    else:
        click.echo(text_summary(result))
        if report_path:
            click.echo(f"report: {report_path}")
