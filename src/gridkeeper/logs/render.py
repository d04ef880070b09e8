"""Rendering records: the readable line and the structured JSON line. Pure functions."""

from __future__ import annotations

import re
from typing import Any, Final

import orjson

from gridkeeper.logs.records import (
    ERROR,
    INFO,
    LEVEL_NAMES,
    MESSAGE_KEYS,
    Record,
    json_message,
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
    if isinstance(value, str):
        # A lone surrogate (text decoded with surrogateescape) is not UTF-8: keep it visible.
        return value.encode("utf-8", "backslashreplace").decode()
    if value is None or isinstance(value, bool | float):
        return value
    return str(value)


_NEEDS_QUOTES: Final = re.compile(r'[\s="]').search
_HEADS: Final[dict[int, str]] = {level: f"{name.upper():<8}" for level, name in LEVEL_NAMES.items()}
_TAGS: Final = ("instance", "stream")
_RENAMED: Final = {"instance": "field_instance", "stream": "field_stream", "ts": "child_ts"}


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
# Distinct heads (level, stream, logger, event) kept within one millisecond.
_HEAD_CACHE_SIZE: Final = 256
_JSON_LINE_OPTS: Final = _JSON_OPTS | orjson.OPT_APPEND_NEWLINE

# The start of both lines of a record: the readable `<ts> <LEVEL> [logger: event]` and the
# structured `{"ts":..,"level":..,"instance":..,"stream":..` up to where the fields follow.
_Heads = tuple[str, bytes]


class Renderer:
    """Renders records of one instance. Keeps small caches, so one per writer thread.

    `add()` and `add_own()` append a record's lines to the current batch (`lines`: readable, every
    record; `error_lines`: readable, ERROR and above; `records`: structured), which the writer
    takes with `take()` and writes in one go. `render()` and `render_own()` return them instead.

    Both lines are spliced together: a head shared by the records of one millisecond (the
    timestamp, level, tags and, for our own records, logger and event) and the record's own part.
    The structured line is byte for byte what encoding one merged dict would give, without
    building that dict for every record.
    """

    __slots__ = (
        "_fmt",
        "_heads",
        "_millis",
        "_texts",
        "_ts",
        "error_lines",
        "instance",
        "lines",
        "records",
    )

    def __init__(self, instance: str, fmt: TimestampFormatter | None = None) -> None:
        self.instance = instance
        self._fmt = fmt or TimestampFormatter()
        self._millis = -1
        self._ts = ""
        self._heads: dict[tuple[Any, ...], _Heads] = {}
        self._texts: dict[str, str] = {}
        self.lines: list[str] = []
        self.error_lines: list[str] = []
        self.records: list[bytes] = []

    def take(self) -> tuple[list[str], list[str], list[bytes]]:
        """The batch so far (readable, errors, structured); the next one starts empty."""
        batch = self.lines, self.error_lines, self.records
        self.lines, self.error_lines, self.records = [], [], []
        return batch

    def add(self, record: Record) -> None:
        """Append the record's lines to the batch."""
        readable, structured = self.render(record)
        self.lines.append(readable)
        if record.level >= ERROR:
            self.error_lines.append(readable)
        self.records.append(structured)

    def _tick(self, ts_value: float, millis: int) -> None:
        """A record of another millisecond: new timestamp text, heads start over."""
        self._millis = millis
        self._ts = self._fmt(ts_value)
        self._heads = {}

    def _make_heads(self, key: tuple[Any, ...], level: int, stream: str, *own: Any) -> _Heads:
        tags = {"ts": self._ts, "level": level_name(level), "instance": self.instance}
        tags["stream"] = stream
        readable = f"{self._ts} {_HEADS.get(level) or _HEADS[INFO]}"
        if own:
            logger, event = own
            tags["logger"] = logger
            tags["event"] = event
            readable += f" {logger}: {event}" if logger else f" {event}"
            structured = dumps(tags)[:-1] + b","
        else:
            readable += " "
            structured = dumps(tags)[:-1] + b',"msg":'
        if len(self._heads) >= _HEAD_CACHE_SIZE:
            self._heads = {}
        heads = self._heads[key] = (readable, structured)
        return heads

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
        if fields is None:
            millis = int(record.ts * 1000)
            if millis != self._millis:
                self._tick(record.ts, millis)
            key = (record.level, record.stream)
            heads = self._heads.get(key) or self._make_heads(key, record.level, record.stream)
            text = record.text
            if record.traceback:
                tail = b"".join(
                    (dumps(traceback_summary(text)), b',"traceback":', dumps(text), b"}\n")
                )
            else:
                tail = dumps(text) + b"}\n"
            return heads[0] + text + "\n", heads[1] + tail
        if record.own:
            logger = fields.get("logger")
            event = fields.get("event", "")
            rest = {k: v for k, v in fields.items() if k != "logger" and k != "event"}
            return self._own_lines(
                record.ts,
                record.level,
                record.stream,
                logger if logger is None else str(logger),
                str(event),
                rest,
            )
        # Always the capture time: a child's own timestamp may be in any format or clock.
        ts = self._fmt(record.ts)
        head = _HEADS.get(record.level) or _HEADS[INFO]
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
        `logger` or `event` (the logger renamed those)."""
        return self._own_lines(ts_value, level, stream, logger, event, fields)

    def _own_lines(
        self,
        ts_value: float,
        level: int,
        stream: str,
        logger: str | None,
        event: str,
        fields: dict[str, Any],
    ) -> tuple[str, bytes]:
        self.add_own(ts_value, level, stream, logger, event, fields)
        if level >= ERROR:
            self.error_lines.pop()
        return self.lines.pop(), self.records.pop()

    def add_own(
        self,
        ts_value: float,
        level: int,
        stream: str,
        logger: str | None,
        event: str,
        fields: dict[str, Any],
    ) -> None:
        """`add()` for a record of our own logger (see `render_own()`). The hot path of the
        keeper's log: renders straight into the batch."""
        millis = int(ts_value * 1000)
        if millis != self._millis:
            self._tick(ts_value, millis)
        key = (level, stream, logger, event)
        heads = self._heads.get(key) or self._make_heads(key, level, stream, logger, event)
        if not fields:
            line = heads[0] + "\n"
            self.lines.append(line)
            if level >= ERROR:
                self.error_lines.append(line)
            self.records.append(heads[1][:-1] + b"}\n")
            return
        parts = [heads[0]]
        tails: list[str] | None = None
        texts = self._texts
        for name, value in fields.items():
            kind = type(value)
            if kind is str:
                text = texts.get(value)
                if text is None:
                    if "\n" in value and name in _MULTILINE_KEYS:
                        if tails is None:
                            tails = []
                        tails.append(value.rstrip("\n"))
                        continue
                    text = self._str_text(value)
            elif kind is int or kind is float:
                text = repr(value)
            else:
                text = _value_text(value)
            parts.append(f"{name}={text}")
        line = " ".join(parts) + "\n"
        if tails:
            line += "\n".join(tails) + "\n"
        if "instance" in fields or "stream" in fields:
            fields = {(f"field_{k}" if k in _TAGS else k): v for k, v in fields.items()}
        try:
            body = orjson.dumps(fields, default=str, option=_JSON_LINE_OPTS)
        except TypeError:
            body = dumps(fields) + b"\n"
        self.lines.append(line)
        if level >= ERROR:
            self.error_lines.append(line)
        self.records.append(heads[1] + body[1:])

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
        if "instance" in fields or "stream" in fields or "ts" in fields:
            # A field of the same name as a tag (the keeper logging `instance=bot1`, a child's
            # own `ts`) is kept under another name rather than lost.
            fields = {_RENAMED.get(k, k): v for k, v in fields.items()}
        for key, value in fields.items():
            if key not in out:
                out[key] = value
        return dumps(out) + b"\n"
