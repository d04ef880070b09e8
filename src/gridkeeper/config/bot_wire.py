"""A grid bot's instance as plain JSON, for a bot process that never imports pydantic.

pydantic and the validated models cost each bot ~13 MiB (issue 14: a bot <= 40 MiB RSS), for a
config read once at start. So the bot runs

    python -m gridkeeper.config.bot_wire --config FILE [--settings FILE]

in a short-lived process (as the monitor does with monitor_wire.py, the keeper with wire.py)
and reads this JSON (gridkeeper.bot.bot_config): the instance's name, symbol, strategy kind,
control port, the exchange connection (with the key and secret: the answer travels on a pipe to
the bot only, and is refused on a terminal), the validated `strategy_config` in JSON mode (money
as decimal strings), and every secret value for log redaction. The checks that make a file a
runnable grid bot are made here too; a refused file answers `{"ok": false, "error",
"exit_code"}` with the message the bot prints (exit 78: no restart can fix it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gridkeeper.config.exchange import ExchangeConfig
from gridkeeper.config.instance import InstanceConfig
from gridkeeper.config.loader import find_settings, load_instance, load_settings
from gridkeeper.config.secret_checks import secret_values
from gridkeeper.errors import ConfigError

FATAL_EXIT = 78  # gridkeeper.bot.errors.FATAL_EXIT (EX_CONFIG: the keeper does not restart)


def load_bot_instance(config_path: Path, settings_path: Path | None) -> InstanceConfig:
    """The instance, or ConfigError when it cannot run as a grid bot."""
    settings = load_settings(find_settings(settings_path))
    inst = load_instance(config_path, settings)
    if not inst.is_grid_bot or inst.strategy is None:
        raise ConfigError(f"{config_path}: metadata.strategy must be 'grid' or 'perp_grid'")
    if inst.metadata.symbol is None:
        raise ConfigError(f"{config_path}: metadata.symbol is required")
    if inst.web_port is None:
        raise ConfigError(f"{config_path}: daemon_config.web_port is required (the control API)")
    return inst


def bot_doc(inst: InstanceConfig) -> dict[str, Any]:
    assert inst.strategy is not None
    exch = inst.exchange or ExchangeConfig()
    return {
        "ok": True,
        "name": inst.name,
        "path": str(inst.path),
        "symbol": inst.metadata.symbol,
        "strategy_kind": inst.metadata.strategy or "grid",
        "exchange_name": inst.metadata.exchange,
        "web_port": inst.web_port,
        "exchange": {
            "base_url": exch.base_url,
            "ws_url": exch.ws_url,
            "api_key": exch.api_key.get_secret_value() if exch.api_key else "",
            "api_secret": exch.api_secret.get_secret_value() if exch.api_secret else "",
            "window_ms": exch.window_ms,
            "timeout_s": exch.timeout_s,
            "max_retries": exch.max_retries,
        },
        "strategy": inst.strategy.model_dump(mode="json"),
        "secrets": sorted(secret_values(inst)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gridkeeper.config.bot_wire")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--settings", type=Path)
    args = parser.parse_args(argv)
    if sys.stdout.isatty():
        # The answer holds the exchange secret: it is for the bot's pipe, not a screen.
        print(
            "refusing to print secrets on a terminal (use `gridkeeper config check`)",
            file=sys.stderr,
        )
        return 2
    try:
        doc = bot_doc(load_bot_instance(args.config, args.settings))
    except ConfigError as exc:
        doc = {"ok": False, "error": str(exc), "exit_code": FATAL_EXIT}
    sys.stdout.write(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
