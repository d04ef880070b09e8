"""Change a value in a config file in place, keeping everything else byte for byte.

Config files are strict JSON (jsonfile.read_json), which has no comments; what an operator cares
about is their layout: key order, indentation, spacing, the other values exactly as written.
Re-dumping the parsed object would re-indent the file and turn "140" into 140, so instead the
value's span in the text is found with json's own scanner and only that span is replaced.
"""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from gridkeeper.errors import ConfigError

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()

Span = tuple[int, int]


def _skip(text: str, idx: int) -> int:
    match = _WS.match(text, idx)
    return match.end() if match else idx


def _value(text: str, idx: int, path: tuple[str, ...], spans: dict[tuple[str, ...], Span]) -> int:
    """Scan the JSON value at `idx`, record the span of every object member by its key path,
    and return the index after the value."""
    idx = _skip(text, idx)
    if text.startswith("{", idx):
        idx = _skip(text, idx + 1)
        if text.startswith("}", idx):
            return idx + 1
        while True:
            key, idx = _DECODER.raw_decode(text, _skip(text, idx))
            if not isinstance(key, str):
                raise ValueError(f"expected a key at {idx}")
            idx = _skip(text, idx)
            if not text.startswith(":", idx):
                raise ValueError(f"expected ':' at {idx}")
            start = _skip(text, idx + 1)
            end = _value(text, start, (*path, key), spans)
            spans[(*path, key)] = (start, end)
            idx = _skip(text, end)
            if text.startswith(",", idx):
                idx += 1
                continue
            if text.startswith("}", idx):
                return idx + 1
            raise ValueError(f"expected ',' or '}}' at {idx}")
    if text.startswith("[", idx):
        idx = _skip(text, idx + 1)
        if text.startswith("]", idx):
            return idx + 1
        n = 0
        while True:
            idx = _skip(text, _value(text, idx, (*path, str(n)), spans))
            n += 1
            if text.startswith(",", idx):
                idx += 1
                continue
            if text.startswith("]", idx):
                return idx + 1
            raise ValueError(f"expected ',' or ']' at {idx}")
    _, end = _DECODER.raw_decode(text, idx)
    return int(end)


def value_spans(text: str) -> dict[tuple[str, ...], Span]:
    """Every object member's value span in `text`, by key path (array items by index)."""
    spans: dict[tuple[str, ...], Span] = {}
    _value(text, 0, (), spans)
    return spans


def replace_values(text: str, changes: dict[tuple[str, ...], Any]) -> str:
    """`text` with the values at the given key paths replaced. A value keeps its JSON type as
    written: a number written as a string ("140") stays a string."""
    spans = value_spans(text)
    edits: list[tuple[Span, str]] = []
    for path, new in changes.items():
        if path not in spans:
            raise KeyError(".".join(path))
        start, end = spans[path]
        old = json.loads(text[start:end])
        if isinstance(new, Decimal):
            literal = format(new, "f")
            edits.append(((start, end), json.dumps(literal) if isinstance(old, str) else literal))
        else:
            edits.append(((start, end), json.dumps(new)))
    for (start, end), literal in sorted(edits, reverse=True):
        text = text[:start] + literal + text[end:]
    return text


GRID_KEYS = ("grid_lower_price", "grid_upper_price", "grid_num")


def check_grid_range(path: Path) -> str:
    """The text of the instance file at `path` when its range can be written back, else a
    ConfigError naming why (checked before a change is applied, so `--save` never fails after
    the grid has already moved)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    if not os.access(path.parent, os.W_OK) or not os.access(path, os.W_OK):
        raise ConfigError("cannot write the file (permissions)", file=str(path))
    try:
        spans = value_spans(text)
    except ValueError as exc:
        raise ConfigError(f"invalid JSON: {exc}", file=str(path)) from None
    for key in GRID_KEYS:
        span = spans.get(("strategy_config", key))
        if span is None:
            raise ConfigError(f"strategy_config.{key} is not in the file", file=str(path))
        if "${" in text[span[0] : span[1]]:
            raise ConfigError(
                f"strategy_config.{key} is an environment reference "
                f"({text[span[0] : span[1]]}): change the variable instead",
                file=str(path),
            )
    return text


def write_grid_range(path: Path, *, lower: Decimal, upper: Decimal, num: int) -> None:
    """Write strategy_config.grid_lower_price / grid_upper_price / grid_num into the instance
    file at `path` (atomically, keeping its mode). ConfigError when the file cannot take it."""
    path = path.resolve()  # a symlinked config keeps its link: the target is rewritten
    text = check_grid_range(path)
    values: dict[str, Any] = {"grid_lower_price": lower, "grid_upper_price": upper, "grid_num": num}
    new = replace_values(text, {("strategy_config", k): v for k, v in values.items()})
    tmp = path.with_name(f".{path.name}.tmp")
    mode = path.stat().st_mode & 0o777
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(new)
        # On disk before the rename: a power loss must leave the old file or the new one,
        # never an empty one under the config's name.
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself
    finally:
        os.close(dir_fd)
