"""Rendering records: the readable line and the structured JSON line. Pure functions."""

from __future__ import annotations

import re
from typing import Any, Final

import orjson

from gridkeeper.logs.records import (
    INFO,
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
_OWN_PLACED: Final = frozenset({"logger", "event"})
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


_NEEDS_QUOTES: Final = re.compile(r'[\s="]').search
_HEADS: Final[dict[int, str]] = {level: f"{name.upper():<8}" for level, name in LEVEL_NAMES.items()}
_TAGS: Final = ("instance", "stream")


def _value_text(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value if value and not _NEEDS_QUOTES(value) else orjson.dumps(value).decode()
    if kind is int or kind is float:
        return repr(value)
    return dumps(value).decode()


# Short string values repeat (symbols, sides, states): their readable text is kept per renderer.
_TEXT_CACHE_SIZE: Final = 1024
_TEXT_CACHE_LEN: Final = 64


class Renderer:
    """Renders records of one instance. Keeps small caches, so one per writer thread.

    The structured line is spliced from bytes: a cached head (`{"ts":..,"level":..,"instance":..,
    "stream":..`, shared by the records of one millisecond) followed by orjson's encoding of the
    record's own fields. The result is byte for byte what encoding one merged dict would give,
    without building that dict for every record.
    """

    __slots__ = ("_fmt", "_heads", "_heads_ts", "_names", "_texts", "instance")

    def __init__(self, instance: str, fmt: TimestampFormatter | None = None) -> None:
        self.instance = instance
        self._fmt = fmt or TimestampFormatter()
        self._heads: dict[tuple[int, str], bytes] = {}
        self._heads_ts = ""
        self._names: dict[str | None, bytes] = {}
        self._texts: dict[str, str] = {}

    def _json_head(self, ts: str, level: int, stream: str) -> bytes:
        """The structured line up to (without) the comma before the record's own fields."""
        if ts != self._heads_ts:
            self._heads = {}
            self._heads_ts = ts
        key = (level, stream)
        head = self._heads.get(key)
        if head is None:
            tags = {
                "ts": ts,
                "level": level_name(level),
                "instance": self.instance,
                "stream": stream,
            }
            head = self._heads[key] = dumps(tags)[:-1]
        return head

    def _name_json(self, name: str | None) -> bytes:
        encoded = self._names.get(name)
        if encoded is None:
            encoded = dumps(name)
            if len(self._names) < _TEXT_CACHE_SIZE:
                self._names[name] = encoded
        return encoded

    def _str_text(self, value: str) -> str:
        """A string value as the readable line shows it (quoted when it needs to be)."""
        text = self._texts.get(value)
        if text is None:
            text = value if value and not _NEEDS_QUOTES(value) else orjson.dumps(value).decode()
            # A multi-line value is shown differently under a traceback-like key: never cached.
            if len(value) <= _TEXT_CACHE_LEN and "\n" not in value:
                if len(self._texts) >= _TEXT_CACHE_SIZE:
                    self._texts.clear()
                self._texts[value] = text
        return text

    def render(self, record: Record) -> tuple[str, bytes]:
        """The readable text and the structured JSON line of a record, each ending in '\n'."""
        fields = record.fields
        head = _HEADS.get(record.level) or _HEADS[INFO]
        if fields is None:
            ts = self._fmt(record.ts)
            start = self._json_head(ts, record.level, record.stream)
            text = record.text
            if record.traceback:
                structured = b"".join(
                    (
                        start,
                        b',"msg":',
                        dumps(traceback_summary(text)),
                        b',"traceback":',
                        dumps(text),
                        b"}\n",
                    )
                )
            else:
                structured = b"".join((start, b',"msg":', dumps(text), b"}\n"))
            return f"{ts} {head} {text}\n", structured
        if record.own:
            logger = fields.get("logger")
            event = fields.get("event", "")
            rest = {k: v for k, v in fields.items() if k != "logger" and k != "event"}
            return self.render_own(
                record.ts,
                record.level,
                record.stream,
                logger if logger is None else str(logger),
                str(event),
                rest,
            )
        ts = json_timestamp(fields) or self._fmt(record.ts)
        placed, message = _PLACED, json_message(fields)
        return self._readable(ts, head, fields, placed, message), self._structured(
            ts, record, fields
        )

    def render_own(
        self,
        ts_value: float,
        level: int,
        stream: str,
        logger: str | None,
        event: str,
        fields: dict[str, Any],
    ) -> tuple[str, bytes]:
        """`render()` for a record of our own logger: `fields` never hold `ts`, `level`,
        `logger` or `event` (the logger renamed those). The hot path of the keeper's log."""
        ts = self._fmt(ts_value)
        head = _HEADS.get(level) or _HEADS[INFO]
        parts = [ts, head, f"{logger}: {event}" if logger else event]
        tails: list[str] = []
        texts = self._texts
        for key, value in fields.items():
            kind = type(value)
            if kind is str:
                text = texts.get(value)
                if text is None:
                    if "\n" in value and key in _MULTILINE_KEYS:
                        tails.append(value.rstrip("\n"))
                        continue
                    text = self._str_text(value)
            elif kind is int or kind is float:
                text = repr(value)
            else:
                text = _value_text(value)
            parts.append(f"{key}={text}")
        line = " ".join(parts)
        if tails:
            line += "\n" + "\n".join(tails)
        if fields:
            if "instance" in fields or "stream" in fields:
                fields = {(f"field_{k}" if k in _TAGS else k): v for k, v in fields.items()}
            rest = b"," + dumps(fields)[1:]
        else:
            rest = b"}"
        structured = b"".join(
            (
                self._json_head(ts, level, stream),
                b',"logger":',
                self._name_json(logger),
                b',"event":',
                dumps(event),
                rest,
                b"\n",
            )
        )
        return line + "\n", structured

    def readable(self, record: Record) -> str:
        """`<ts> <LEVEL> [logger: ]message key=value ...` plus any multi-line text, with '\\n'."""
        return self.render(record)[0]

    def structured(self, record: Record) -> bytes:
        """One JSON object with ts, level, instance, stream and the record's fields, with '\\n'."""
        return self.render(record)[1]

    @staticmethod
    def _readable(
        ts: str, head: str, fields: dict[str, Any], placed: frozenset[str], message: str
    ) -> str:
        logger = fields.get("logger")
        parts = [ts, head, f"{logger}: {message}" if logger else message]
        tails: list[str] = []
        for key, value in fields.items():
            if key in placed:
                continue
            if key in _MULTILINE_KEYS and type(value) is str and "\n" in value:
                tails.append(value.rstrip("\n"))
                continue
            parts.append(f"{key}={_value_text(value)}")
        line = " ".join(parts)
        if tails:
            line += "\n" + "\n".join(tails)
        return line + "\n"

    def _structured(self, ts: str, record: Record, fields: dict[str, Any]) -> bytes:
        out: dict[str, Any] = {
            "ts": ts,
            "level": level_name(record.level),
            "instance": self.instance,
            "stream": record.stream,
        }
        if "instance" in fields or "stream" in fields:
            # A field of the same name as a tag (the keeper logging `instance=bot1`) is kept
            # under another name rather than lost.
            fields = {(f"field_{k}" if k in _TAGS else k): v for k, v in fields.items()}
        for key, value in fields.items():
            if key not in out:
                out[key] = value
        return dumps(out) + b"\n"
