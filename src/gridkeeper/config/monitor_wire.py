"""The monitor's settings as plain JSON, for a monitor process that never imports pydantic.

pydantic and the validated models cost the monitor about 20 MiB of its footprint (issue 14: a
monitor <= 35 MiB RSS), for settings read once at start. So the monitor runs

    python -m gridkeeper.config.monitor_wire [--settings FILE]

in a short-lived process (the keeper reads instance configs the same way, config/wire.py) and
reads this module's JSON: every section of the validated `monitor` and `notifications` models
as an object, a mapping field as `{"$dict": {...}}` (so it stays a dict), a secret as
`{"$secret": "value"}` (so the monitor can keep it a secret: masked in repr, revealed by
`get_secret_value()`), the log dir, and every secret value for log redaction.
The answer travels on a pipe to the monitor only; errors come back as `{"ok": false, "error"}`.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from gridkeeper.errors import GridkeeperError

SECRET = "$secret"  # noqa: S105 - a marker key, not a password
DICT = "$dict"
DECIMAL = "$decimal"  # money thresholds stay exact Decimals on the monitor's side


def to_plain(value: Any) -> Any:
    """A validated model as JSON-able data; secrets marked, everything else as JSON mode."""
    if isinstance(value, SecretStr):
        return {SECRET: value.get_secret_value()}
    if isinstance(value, Decimal):
        return {DECIMAL: str(value)}
    if isinstance(value, BaseModel):
        return {name: to_plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {DICT: {str(k): to_plain(v) for k, v in value.items()}}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # a Path and the like


def dump(settings_path: Path | None) -> dict[str, Any]:
    from gridkeeper.config import find_settings, load_settings, secret_values

    path = find_settings(settings_path)
    settings = load_settings(path)
    monitor = to_plain(settings.monitor)
    # The monitor cannot call AlertRules.for_grid (a pydantic model_copy): it gets each
    # overridden grid's effective rules instead of the overrides (monitor/grid_rules.rules_for).
    rules = settings.monitor.rules
    monitor["rules"]["grids"] = {
        DICT: {
            name: {**to_plain(rules.for_grid(name)), "grids": {DICT: {}}} for name in rules.grids
        }
    }
    return {
        "ok": True,
        "settings_path": str(path) if path is not None else None,
        "log_dir": str(settings.log_dir),
        "monitor": monitor,
        "notifications": to_plain(settings.notifications),
        "secrets": sorted(secret_values(settings)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gridkeeper.config.monitor_wire")
    parser.add_argument("--settings", type=Path)
    args = parser.parse_args(argv)
    try:
        doc = dump(args.settings)
    except GridkeeperError as exc:
        doc = {"ok": False, "error": str(exc), "exit_code": getattr(exc, "exit_code", 2)}
    sys.stdout.write(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
