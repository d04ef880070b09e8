"""Custom alerts raised by a bot or a script: a row in monitor.db that the running monitor reads.

Writing to the database (not calling the monitor) means raising an alert works while the monitor
restarts: it fires as soon as the monitor next looks, within a second of it running.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from gridkeeper.errors import UsageError
from gridkeeper.monitor.rules import LEVELS
from gridkeeper.monitor.store import DB_NAME, Store
from gridkeeper.paths import resolve_home

_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """`90s`, `30m`, `1h`, `1d`, `2w` (or plain seconds) -> seconds."""
    m = _DURATION.match(text.lower())
    if not m:
        raise UsageError(f"duration {text!r} must look like 90s, 30m, 1h, 1d or 2w")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise UsageError(
            f"alert name {name!r} must be 1-100 letters, digits or _ . : - (no spaces)"
        )


def raise_alert(
    name: str,
    *,
    level: str | None = None,
    message: str = "",
    home: str | os.PathLike[str] | None = None,
) -> None:
    """Raise (or update) the custom alert `name`; it fires until `resolve_alert(name)`."""
    _check_name(name)
    if level is not None and level not in LEVELS:
        raise UsageError(f"alert level {level!r} must be one of {', '.join(LEVELS)}")
    store = Store.open(resolve_home(home))
    try:
        store.raise_custom(name, level, message, time.time())
    finally:
        store.close()


def resolve_alert(name: str, *, home: str | os.PathLike[str] | None = None) -> bool:
    """Resolve the custom alert `name`; False when it was not raised."""
    _check_name(name)
    store = Store.open(resolve_home(home))
    try:
        return store.resolve_custom(name)
    finally:
        store.close()


def db_path(home: str | os.PathLike[str] | None = None) -> Path:
    return resolve_home(home) / DB_NAME
