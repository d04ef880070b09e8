"""A config's secrets: every secret value (for redaction), and warnings about secrets the logs
cannot mask (too short) or a file that holds a secret literally and others can read."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from gridkeeper.config.env import format_loc, substitute
from gridkeeper.config.instance import InstanceConfig
from gridkeeper.config.jsonfile import read_json
from gridkeeper.config.settings import Settings

MIN_MASKED = 6  # gridkeeper.logs masks secrets of at least this length


def secret_values(model: BaseModel | InstanceConfig | None) -> set[str]:
    """Every non-empty secret value in a loaded config, for redaction."""
    return {value for _, value in _secrets(model, ())}


def _secrets(obj: Any, loc: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    found: list[tuple[tuple[str | int, ...], str]] = []
    if isinstance(obj, SecretStr):
        value = obj.get_secret_value()
        if value:
            found.append((loc, value))
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            found += _secrets(getattr(obj, name), (*loc, name))
    elif isinstance(obj, InstanceConfig):
        found += _secrets(obj.exchange, ("exchange_config",))
        found += _secrets(obj.strategy, ("strategy_config",))
    elif isinstance(obj, list | tuple):
        for i, item in enumerate(obj):
            found += _secrets(item, (*loc, i))
    elif isinstance(obj, dict):
        for key, item in obj.items():
            found += _secrets(item, (*loc, key))
    return found


def permission_warnings(
    file: Path,
    parsed: BaseModel,
    raw: dict[str, Any],
    substituted: set[tuple[str | int, ...]],
) -> list[str]:
    """Warn when a file that holds a secret literally can be read by group or others."""
    warnings = [
        f"{file}: the secret at {format_loc(loc)} is shorter than {MIN_MASKED} characters: "
        "logs cannot mask it (masking it would reveal it)"
        for loc, value in _secrets(parsed, ())
        if len(value) < MIN_MASKED
    ]
    literal = [loc for loc, _ in _secrets(parsed, ()) if loc not in substituted]
    if not literal:
        return warnings
    try:
        mode = file.stat().st_mode
    except OSError:
        return warnings
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        warnings.append(
            f"{file}: holds a secret ({format_loc(literal[0])}) and is readable by group or "
            f"others (mode {stat.S_IMODE(mode):04o}); run: chmod 600 {file}"
        )
    return warnings


def settings_warnings(path: Path | None, settings: Settings) -> list[str]:
    """Permission warnings for the settings file itself."""
    if path is None:
        return []
    raw = read_json(path)
    substituted: set[tuple[str | int, ...]] = set()
    substitute(raw, os.environ, file=str(path), substituted=substituted)
    return permission_warnings(path, settings, raw, substituted)
