"""Turning pydantic's validation errors into the one-line-per-problem messages operators read."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from gridkeeper.config.env import format_loc
from gridkeeper.errors import ConfigError


def _unwrap(annotation: Any) -> Any:
    """The model class inside `X | None`, `list[X]`, `dict[str, X]`, `Annotated[X, ...]`."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _unwrap(arg)
            if isinstance(found, type) and issubclass(found, BaseModel):
                return found
        return None
    if origin in (list, tuple, set, frozenset):
        return _unwrap(get_args(annotation)[0])
    if origin is dict:
        return _unwrap(get_args(annotation)[1])
    return annotation


def fields_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The field names the model accepts at `loc` (for "did you mean")."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = _unwrap(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _reason(error: Any, model: type[BaseModel]) -> tuple[tuple[str | int, ...], str]:
    loc: tuple[str | int, ...] = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        known = fields_at(model, loc[:-1])
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return loc, f"unknown key '{key}'{hint}"
    msg = str(error["msg"])
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "missing":
        msg = "required key is missing"
    if "input" in error and kind not in ("missing", "extra_forbidden") and _safe(error, loc):
        msg += f" (got {error['input']!r})"
    return loc, msg


def _safe(error: Any, loc: tuple[str | int, ...]) -> bool:
    """Echo the bad value back only when it is short and cannot be a secret."""
    value = error["input"]
    if isinstance(value, dict | list):
        return False
    text = " ".join(str(p).lower() for p in loc)
    if any(word in text for word in ("secret", "password", "token", "key")):
        return False
    return len(repr(value)) <= 60


def config_error(exc: ValidationError, model: type[BaseModel], file: str) -> ConfigError:
    """One ConfigError listing every problem, each as `file: json.path: reason`."""
    problems = [_reason(e, model) for e in exc.errors()]
    first_loc = format_loc(problems[0][0]) if problems else None
    if len(problems) == 1:
        return ConfigError(problems[0][1], file=file, loc=first_loc)
    lines = [f"{len(problems)} problems:"]
    lines += [f"  {file}: {format_loc(loc)}: {reason}" for loc, reason in problems]
    err = ConfigError("\n".join(lines))
    err.file, err.loc = file, first_loc
    return err
