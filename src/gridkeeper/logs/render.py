"""Rendering records: the readable line and the structured JSON line. Pure functions."""

from __future__ import annotations

from typing import Any, Final

import orjson

from gridkeeper.logs.records import (
    LEVEL_NAMES,
    MESSAGE_KEYS,
    Record,
    json_message,
    json_timestamp,
    traceback_summary,
)
from gridkeeper.logs.timefmt import TimestampFormatter

# Fields the readable line shows in fixed places rather than as key=value.
_PLACED: Final = frozenset(
    {"ts", "timestamp", "time", "@timestamp", "level", "levelname", "severity", "lvl", "logger"}
    | set(MESSAGE_KEYS)
)
_MULTILINE_KEYS: Final = ("exception", "exc_info", "stack", "traceback")
_JSON_OPTS: Final = orjson.OPT_NON_STR_KEYS


def level_name(level: int) -> str:
    """The lower-case name used in JSON output."""
    return LEVEL_NAMES.get(level, "info")


def dumps(value: Any) -> bytes:
    """orjson with a fallback: whatever it cannot encode is written as its str()."""
    try:
        return orjson.dumps(value, default=str, option=_JSON_OPTS)
    except TypeError:
        # Integers past 64 bits and similar are not handed to `default`.
        return orjson.dumps(_stringify(value), default=str, option=_JSON_OPTS)


def _stringify(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _stringify(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_stringify(item) for item in value]
    if value is None or isinstance(value, str | bool | float):
        return value
    return str(value)


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        if value and not any(ch in value for ch in ' ="\n'):
            return value
        return orjson.dumps(value).decode()
    return dumps(value).decode()


class Renderer:
    """Renders records of one instance. Keeps a timestamp cache, so one per writer thread."""

    __slots__ = ("_fmt", "instance")

    def __init__(self, instance: str, fmt: TimestampFormatter | None = None) -> None:
        self.instance = instance
        self._fmt = fmt or TimestampFormatter()

    def readable(self, record: Record) -> str:
        """`<ts> <LEVEL> [logger: ]message key=value ...` plus any multi-line text, with '\\n'."""
        fields = record.fields
        head = level_name(record.level).upper()
        if fields is None:
            return f"{self._fmt(record.ts)} {head:<8} {record.text}\n"
        ts = json_timestamp(fields) or self._fmt(record.ts)
        parts = [ts, f"{head:<8}"]
        logger = fields.get("logger")
        message = json_message(fields)
        parts.append(f"{logger}: {message}" if logger else message)
        tails: list[str] = []
        for key, value in fields.items():
            if key in _PLACED:
                continue
            if key in _MULTILINE_KEYS and isinstance(value, str) and "\n" in value:
                tails.append(value.rstrip("\n"))
                continue
            parts.append(f"{key}={_value_text(value)}")
        line = " ".join(parts)
        if tails:
            line += "\n" + "\n".join(tails)
        return line + "\n"

    def structured(self, record: Record) -> bytes:
        """One JSON object with ts, level, instance, stream and the record's fields, with '\\n'."""
        fields = record.fields
        out: dict[str, Any]
        if fields is None:
            out = {
                "ts": self._fmt(record.ts),
                "level": level_name(record.level),
                "instance": self.instance,
                "stream": record.stream,
            }
            if record.traceback:
                out["msg"] = traceback_summary(record.text)
                out["traceback"] = record.text
            else:
                out["msg"] = record.text
        else:
            out = {
                "ts": json_timestamp(fields) or self._fmt(record.ts),
                "level": level_name(record.level),
                "instance": self.instance,
                "stream": record.stream,
            }
            for key, value in fields.items():
                if key not in out:
                    out[key] = value
        return dumps(out) + b"\n"
