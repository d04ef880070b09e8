"""Reading one JSON config file: the file's real path, strict JSON (no duplicate keys) with line
and column in syntax errors, and pydantic validation whose errors name the file and JSON path.
Everything raises ConfigError."""

from __future__ import annotations

import errno
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from gridkeeper.config.errors import config_error
from gridkeeper.errors import ConfigError

_LOOP = "symlink loop: the link points back to itself (directly or through other links)"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key '{key}'")
        out[key] = value
    return out


def resolve_file(path: str | Path) -> Path:
    """The absolute, symlink-free path of a config file. A symlink loop is a ConfigError naming
    the file (Python 3.11's Path.resolve() raises RuntimeError for it, later ones OSError)."""
    given = Path(path).expanduser()
    try:
        return given.resolve()
    except RuntimeError:
        raise ConfigError(_LOOP, file=str(given)) from None
    except OSError as exc:
        reason = _LOOP if exc.errno == errno.ELOOP else f"cannot resolve the path: {exc}"
        raise ConfigError(reason, file=str(given)) from None


def read_json(path: Path) -> dict[str, Any]:
    """Parse a JSON object file; syntax errors name the line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, expected a JSON file", file=str(path)) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(_LOOP, file=str(path)) from None
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read: {exc}", file=str(path)) from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", file=str(path)
        ) from None
    except ValueError as exc:  # a duplicate key
        raise ConfigError(f"invalid JSON: {exc}", file=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a JSON object", file=str(path))
    return data


def validate(
    model: type[BaseModel],
    data: dict[str, Any],
    path: Path,
    substituted: Iterable[tuple[str | int, ...]] = (),
) -> Any:
    """`model` from `data`; `substituted` (env.substitute's record) keeps values that came
    from `${VAR}` out of the error (gridkeeper.config.errors)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, model, str(path), data=data, substituted=substituted) from None
