"""Turning pydantic's validation errors into the one-line-per-problem messages operators read."""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Iterable
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from gridkeeper.config.env import format_loc
from gridkeeper.errors import ConfigError

Loc = tuple[str | int, ...]
HIDDEN = "<hidden>"
# A value from `${VAR}` shorter than this is not hidden from messages (it cannot be a key, and
# hiding "1" would garble them); gridkeeper.logs masks secrets from the same length.
MIN_HIDDEN = 6
# Runs of hex (a token: always a key at this length) and of base64/base64url (an API key or
# secret: 32 or 64 bytes, i.e. 44 or 88 characters; a key only when it mixes cases and digits).
_HEX = re.compile(r"[0-9a-fA-F]{32,}")
_BASE64 = re.compile(r"[A-Za-z0-9+/_\-]{20,}={0,2}")


def _is_key(token: str) -> bool:
    """A base64 run that is a key, not a field name or a path: upper case, lower case and
    digits mixed (our messages' own words never are)."""
    return (
        any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() for c in token)
    )


def looks_like_key(text: str) -> bool:
    """True when `text` holds something shaped like an API key, secret or token."""
    return bool(_HEX.search(text)) or any(_is_key(m.group(0)) for m in _BASE64.finditer(text))


def _forms(value: str) -> set[str]:
    """The ways a message may spell `value`: as is, repr'd, JSON-escaped."""
    return {value, repr(value)[1:-1], json.dumps(value)[1:-1]} - {""}


def scrub(message: str, hidden: Iterable[str] = ()) -> str:
    """`message` with every `hidden` value (values from `${VAR}`) and every key-shaped run
    replaced by <hidden>."""
    for value in sorted(hidden, key=len, reverse=True):
        if len(value) >= MIN_HIDDEN:
            for form in _forms(value):
                message = message.replace(form, HIDDEN)
    message = _HEX.sub(HIDDEN, message)
    return _BASE64.sub(lambda m: HIDDEN if _is_key(m.group(0)) else m.group(0), message)


def substituted_values(data: Any, substituted: Iterable[Loc]) -> set[str]:
    """The strings `${VAR}` expansion put into `data`, at the paths env.substitute recorded."""
    found: set[str] = set()
    for loc in substituted:
        value = data
        for part in loc:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                value = None
                break
        if isinstance(value, str):
            found.add(value)
    return found


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


def _reason(
    error: Any, model: type[BaseModel], substituted: frozenset[Loc] = frozenset()
) -> tuple[tuple[str | int, ...], str]:
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
    if (
        "input" in error
        and kind not in ("missing", "extra_forbidden")
        and _safe(error, loc, substituted)
    ):
        msg += f" (got {error['input']!r})"
    return loc, msg


def _safe(error: Any, loc: Loc, substituted: frozenset[Loc] = frozenset()) -> bool:
    """Echo the bad value back only when it is short and cannot be a secret: never a value
    from `${VAR}` (the variable may hold a key whatever the field), nor a key-shaped one."""
    value = error["input"]
    if isinstance(value, dict | list):
        return False
    if any(s[: len(loc)] == loc for s in substituted):
        return False
    text = " ".join(str(p).lower() for p in loc)
    if any(word in text for word in ("secret", "password", "token", "key")):
        return False
    return len(repr(value)) <= 60 and not looks_like_key(repr(value))


def config_error(
    exc: ValidationError,
    model: type[BaseModel],
    file: str,
    *,
    data: Any = None,
    substituted: Iterable[Loc] = (),
) -> ConfigError:
    """One ConfigError listing every problem, each as `file: json.path: reason`. `data` and
    `substituted` (what env.substitute recorded) say which values came from `${VAR}`: those,
    and anything key-shaped, never appear in a reason, also not inside a validator's own
    message."""
    subs = frozenset(substituted)
    hidden = substituted_values(data, subs)
    problems = [
        (loc, scrub(reason, hidden))
        for loc, reason in (_reason(e, model, subs) for e in exc.errors())
    ]
    first_loc = format_loc(problems[0][0]) if problems else None
    if len(problems) == 1:
        return ConfigError(problems[0][1], file=file, loc=first_loc)
    lines = [f"{len(problems)} problems:"]
    lines += [f"  {file}: {format_loc(loc)}: {reason}" for loc, reason in problems]
    err = ConfigError("\n".join(lines))
    err.file, err.loc = file, first_loc
    return err
