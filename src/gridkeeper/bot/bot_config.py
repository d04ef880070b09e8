"""A grid bot's instance without pydantic: read from `python -m gridkeeper.config.bot_wire`
(a short-lived process; see that module for why) into frozen dataclasses.

The config package stays the one place that knows what a key means: every default, `${VAR}`
and check ran in the resolver, with the same messages. Here only the shapes are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridkeeper.bot.errors import BotFatal
from gridkeeper.bot.params import GridParams
from gridkeeper.errors import ConfigError, GridkeeperError
from gridkeeper.resolver import ResolverFailed, run_resolver


@dataclass(frozen=True, slots=True)
class ExchangeParams:
    """The validated `exchange_config` (defaults filled in by the resolver)."""

    base_url: str
    ws_url: str
    api_key: str
    api_secret: str
    window_ms: int
    timeout_s: float
    max_retries: int

    def __repr__(self) -> str:  # never print the secret (a traceback, a debug line)
        return f"ExchangeParams(base_url={self.base_url!r}, ws_url={self.ws_url!r}, ...)"


@dataclass(frozen=True, slots=True)
class BotConfig:
    name: str
    path: Path
    symbol: str
    strategy_kind: str  # grid | perp_grid
    exchange_name: str  # metadata.exchange: paper | backpack
    web_port: int
    exchange: ExchangeParams
    strategy: GridParams
    secrets: frozenset[str] = field(repr=False)  # for log redaction; never printed


def parse(doc: Any) -> BotConfig:
    """The resolver's answer; BotFatal (exit 78) with its message when it refused the file."""
    if not isinstance(doc, dict):
        raise ConfigError("the config resolver answered no object")
    if not doc.get("ok"):
        raise BotFatal(str(doc.get("error") or "cannot read the config"))
    try:
        ex = doc["exchange"]
        return BotConfig(
            name=str(doc["name"]),
            path=Path(doc["path"]),
            symbol=str(doc["symbol"]),
            strategy_kind=str(doc["strategy_kind"]),
            exchange_name=str(doc["exchange_name"]),
            web_port=int(doc["web_port"]),
            exchange=ExchangeParams(
                base_url=str(ex["base_url"]),
                ws_url=str(ex["ws_url"]),
                api_key=str(ex["api_key"]),
                api_secret=str(ex["api_secret"]),
                window_ms=int(ex["window_ms"]),
                timeout_s=float(ex["timeout_s"]),
                max_retries=int(ex["max_retries"]),
            ),
            strategy=GridParams.from_wire(doc["strategy"]),
            secrets=frozenset(str(s) for s in doc["secrets"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"the config resolver's answer is incomplete ({exc!r})") from None


def load(config_path: Path, settings_path: Path | None) -> BotConfig:
    """Resolve the instance in a child process. It inherits our environment, so `${VAR}` in
    the file resolves as it would here. BotFatal (exit 78) for a file that cannot run as a
    grid bot, as before; GridkeeperError (exit 1: the keeper retries) when the resolver
    itself failed."""
    # `--config=PATH`, one word: a relative path starting with "-" is otherwise read by
    # argparse as an option, and `--config` as missing its value.
    args = [f"--config={config_path}"]
    if settings_path is not None:
        args.append(f"--settings={settings_path}")
    try:
        doc = run_resolver(
            "gridkeeper.config.bot_wire", args, drop_env=("PYTHONPROFILEIMPORTTIME",)
        )
    except ResolverFailed as exc:
        raise GridkeeperError(f"cannot read {config_path}: {exc}") from None
    return parse(doc)
