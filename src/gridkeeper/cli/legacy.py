"""The seed's single-program mode: `python run.py --exchange backpack --symbol ... --strategy
perp_grid --grid-lower ... --grid-upper ...` runs our grid bot with the same meaning.

The flags become an instance file (keys as `${BACKPACK_KEY}` / `${BACKPACK_SECRET}` references,
never literal) written under `<home>/legacy/`, and the bot runs it exactly as the keeper runs any
grid instance, so everything (control API, store, logs) behaves the same. See docs/migrating.md.
"""

from __future__ import annotations

import argparse
import os
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson

from gridkeeper.config.seed import SUPPORTED_EXCHANGES, UNSUPPORTED_EXCHANGES
from gridkeeper.errors import ConfigError

DEFAULT_WEB_PORT = 5000  # the seed's web control address, http://127.0.0.1:5000
DEFAULT_BASE_URL = "${BASE_URL:-https://api.backpack.exchange}"
STRATEGY_FLAGS = frozenset({"--strategy", "--symbol", "--grid-lower", "--grid-upper"})


def is_strategy_mode(argv: list[str]) -> bool:
    return any(arg.split("=", 1)[0] in STRATEGY_FLAGS for arg in argv)


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run.py", description="The seed's strategy mode: run one grid bot from flags."
    )
    p.add_argument("--exchange", default="backpack", help="backpack (or paper)")
    p.add_argument("--market-type", choices=["spot", "perp"], default=None)
    p.add_argument("--symbol", required=True, help="e.g. SOL_USDC or ETH_USDC_PERP")
    p.add_argument("--strategy", default=None, help="grid (spot) or perp_grid")
    p.add_argument("--grid-type", choices=["neutral", "long", "short"], default="neutral")
    p.add_argument("--grid-lower", type=_decimal, default=None)
    p.add_argument("--grid-upper", type=_decimal, default=None)
    p.add_argument("--grid-num", type=int, default=10)
    p.add_argument("--grid-mode", choices=["arithmetic", "geometric"], default="arithmetic")
    p.add_argument("--quantity", type=_decimal, default=None, help="order quantity (base)")
    p.add_argument("--max-position", type=_decimal, default=None)
    p.add_argument("--stop-loss", type=_decimal, default=None)
    p.add_argument("--take-profit", type=_decimal, default=None)
    p.add_argument(
        "--boundary-action",
        choices=["pause", "stop_only", "emergency_close", "adjust_range"],
        default="pause",
    )
    p.add_argument("--boundary-tolerance", type=_decimal, default=None)
    check = p.add_mutually_exclusive_group()
    check.add_argument("--enable-boundary-check", dest="boundary_check", action="store_true")
    check.add_argument("--disable-boundary-check", dest="boundary_check", action="store_false")
    p.set_defaults(boundary_check=True)
    p.add_argument("--duration", type=float, default=None, help="seconds, then stop cleanly")
    p.add_argument("--interval", type=float, default=None, help="loop period (seconds)")
    p.add_argument(
        "--auto-price",
        action="store_true",
        help="centre the range on the current price (with --price-range)",
    )
    p.add_argument(
        "--price-range",
        type=_decimal,
        default=Decimal(5),
        help="with --auto-price: percent above and below the price (default 5)",
    )
    p.add_argument("--web-port", type=int, default=DEFAULT_WEB_PORT)
    p.add_argument("--base-url", default=None, help="default ${BASE_URL}, else Backpack")
    p.add_argument("--home", default=None, help="keeper home (default $GRIDKEEPER_HOME)")
    return p


def instance_document(args: argparse.Namespace, price: Decimal | None = None) -> dict[str, Any]:
    """The instance file the flags mean. `price`: the current price, for --auto-price."""
    exchange = str(args.exchange).lower()
    if exchange in UNSUPPORTED_EXCHANGES or exchange not in SUPPORTED_EXCHANGES:
        raise ConfigError(
            f"--exchange {args.exchange}: not supported: gridkeeper trades on Backpack only "
            "(backpack, or paper for the local paper exchange)"
        )
    perp = args.market_type == "perp" or str(args.symbol).upper().endswith("_PERP")
    strategy = args.strategy if args.strategy in ("grid", "perp_grid") else None
    strategy = strategy or ("perp_grid" if perp else "grid")
    lower, upper = args.grid_lower, args.grid_upper
    if args.auto_price:
        if price is None:
            raise ConfigError("--auto-price needs the current price")
        share = args.price_range / 100
        lower, upper = price * (1 - share), price * (1 + share)
    if lower is None or upper is None:
        raise ConfigError("give --grid-lower and --grid-upper, or --auto-price")
    strat: dict[str, Any] = {
        "grid_lower_price": str(lower),
        "grid_upper_price": str(upper),
        "grid_num": args.grid_num,
        "grid_mode": args.grid_mode,
        "grid_type": args.grid_type,
        "boundary_action": args.boundary_action,
        "enable_boundary_check": args.boundary_check,
    }
    optional = {
        "order_quantity": args.quantity,
        "max_position": args.max_position,
        "stop_loss": args.stop_loss,
        "take_profit": args.take_profit,
        "boundary_tolerance": args.boundary_tolerance,
    }
    strat.update({k: str(v) for k, v in optional.items() if v is not None})
    if args.duration is not None:
        strat["duration_s"] = args.duration
    if args.interval is not None:
        strat["poll_interval_s"] = args.interval
    base_url = args.base_url or DEFAULT_BASE_URL
    exch: dict[str, Any] = {"base_url": base_url}
    if exchange == "backpack":
        exch |= {"api_key": "${BACKPACK_KEY}", "api_secret": "${BACKPACK_SECRET}"}
    else:
        exch |= {"api_key": "${BACKPACK_KEY:-}", "api_secret": "${BACKPACK_SECRET:-}"}
    name = os.environ.get("GRIDKEEPER_INSTANCE") or ""
    if not name or name == "daemon_config":
        name = "legacy-" + str(args.symbol).lower()
    return {
        "metadata": {
            "instance_id": name,
            "exchange": exchange,
            "symbol": args.symbol,
            "market_type": "perp" if perp else "spot",
            "strategy": strategy,
        },
        "daemon_config": {"web_port": args.web_port},
        "exchange_config": exch,
        "strategy_config": strat,
    }


def current_price(base_url: str, symbol: str) -> Decimal:
    import asyncio

    from gridkeeper.config.env import substitute
    from gridkeeper.exchange.client import BackpackClient

    url = str(substitute(base_url, os.environ))

    async def fetch() -> Decimal:
        async with BackpackClient(url, None, None, timeout_s=10, max_retries=2) as client:
            return (await client.get_ticker(symbol)).last_price

    return asyncio.run(fetch())


def write_instance(home: Path, doc: dict[str, Any]) -> Path:
    """`<home>/legacy/<name>.json`, 0600 (it holds only `${VAR}` references, but it is ours)."""
    folder = home / "legacy"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{doc['metadata']['instance_id']}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    return path


def run(argv: list[str]) -> int:
    """Parse the seed's flags, write the instance, run the bot in this process."""
    from gridkeeper.cli.main import main
    from gridkeeper.paths import resolve_home

    args = parser().parse_args(argv)
    home = resolve_home(Path(args.home) if args.home else None)
    price = None
    if args.auto_price:
        price = current_price(
            args.base_url or "${BASE_URL:-https://api.backpack.exchange}", args.symbol
        )
    path = write_instance(home, instance_document(args, price))
    return main(["bot", "--config", str(path), "--home", str(home)])
