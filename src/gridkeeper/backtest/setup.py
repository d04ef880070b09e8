"""A backtest's setup from an instance config (GRID.json) and, optionally, a paper exchange config.

The instance file gives `metadata` (instance_id, symbol, strategy) and `strategy_config`; its
`exchange_config` is ignored (nothing is contacted). The market (tick, step, fees, band) and the
account's starting balances come from the paper exchange config's market of that symbol and its
first account; without one, a default market (0.01 tick and step, 2/5 bps fees, band 0.5-1.5)
and an account with ample quote and base (the grid takes the inventory it needs) are used.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from gridkeeper.backtest.model import BacktestError, SimSetup
from gridkeeper.config.paper_exchange import PaperExchangeConfig
from gridkeeper.config.strategy import GridStrategyConfig

AMPLE = "1000000000"


def default_exchange(symbol: str, spot: bool, price: Decimal) -> dict[str, Any]:
    base, _, quote = symbol.partition("_")
    quote = quote.removesuffix("_PERP") or "USDC"
    return {
        "markets": [
            {
                "symbol": symbol,
                "base_symbol": base,
                "quote_symbol": quote,
                "market_type": "SPOT" if spot else "PERP",
                "initial_price": str(price),
            }
        ],
        "price_source": {"kind": "manual"},
        "accounts": [
            {"name": "backtest", "balances": {quote: AMPLE, base: AMPLE if spot else "0"}}
        ],
    }


def make_setup(
    instance: dict[str, Any],
    exchange: dict[str, Any] | None,
    *,
    first_price: Decimal = Decimal(1),
    capital: Decimal | None = None,
) -> SimSetup:
    meta = instance.get("metadata") or {}
    symbol = meta.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise BacktestError("metadata.symbol is missing in the grid config")
    kind = meta.get("strategy", "grid")
    if kind not in ("grid", "perp_grid"):
        raise BacktestError(
            f"metadata.strategy {kind!r}: only grid and perp_grid can be backtested"
        )
    spot = kind == "grid"
    try:
        strategy = GridStrategyConfig.model_validate(instance.get("strategy_config") or {})
        ex = PaperExchangeConfig.model_validate(
            exchange if exchange is not None else default_exchange(symbol, spot, first_price)
        )
    except ValueError as exc:
        raise BacktestError(str(exc)) from exc
    name = str(meta.get("instance_id") or "backtest")
    return SimSetup(name, symbol, strategy, ex, spot, capital)


def load_setup(
    config: Path,
    exchange: Path | None,
    *,
    first_price: Decimal = Decimal(1),
    capital: Decimal | None = None,
) -> SimSetup:
    try:
        instance = orjson.loads(config.read_bytes())
        ex = orjson.loads(exchange.read_bytes()) if exchange is not None else None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise BacktestError(f"cannot read the config: {exc}") from exc
    return make_setup(instance, ex, first_price=first_price, capital=capital)
