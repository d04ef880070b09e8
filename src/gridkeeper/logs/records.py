"""Turning captured output lines into records: levels, JSON lines, traceback grouping.

Pure logic: no I/O, no clock. The sink's writer thread feeds lines in order and gets records out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

DEBUG: Final = 10
INFO: Final = 20
WARNING: Final = 30
ERROR: Final = 40
CRITICAL: Final = 50

LEVEL_NAMES: Final[dict[int, str]] = {
    DEBUG: "debug",
    INFO: "info",
    WARNING: "warning",
    ERROR: "error",
    CRITICAL: "critical",
}

# Every spelling a program might use for a level, lower-cased.
_LEVEL_WORDS: Final[dict[str, int]] = {
    "trace": DEBUG,
    "debug": DEBUG,
    "dbg": DEBUG,
    "info": INFO,
    "information": INFO,
    "notice": INFO,
    "warn": WARNING,
    "warning": WARNING,
    "err": ERROR,
    "error": ERROR,
    "exception": ERROR,
    "crit": CRITICAL,
    "critical": CRITICAL,
    "fatal": CRITICAL,
    "panic": CRITICAL,
    "alert": CRITICAL,
    "emerg": CRITICAL,
    "emergency": CRITICAL,
}

# Where a level hides in a plain line: an upper-case word near the start (Python's default
# "ERROR:name:msg", "2024-05-01 12:00:00 - bot - WARNING - ..."), or any case inside "[error]",
# "<warn>", "level=error". Only the first 80 characters count, so words inside a message do not.
# Plain `str.find` first: a regex alternation tried at every position costs microseconds a line.
_PREFIX_SCAN: Final = 80
_UPPER_WORDS: Final = (
    "CRITICAL", "CRIT", "FATAL", "PANIC", "ERROR", "ERR",
    "WARNING", "WARN", "NOTICE", "INFO", "DEBUG", "TRACE",
)  # fmt: skip
_TAGGED_RE: Final = re.compile(
    r"\[(?P<b>[A-Za-z]+)\]|<(?P<a>[A-Za-z]+)>|\blevel(?:name)?[=:]\s*\"?(?P<kv>[A-Za-z]+)"
)

_TB_HEADER: Final = re.compile(
    r"^[ \t]*(?:\+[ \t]*)?(Exception Group )?Traceback \(most recent call last\):"
)
_TB_CHAIN: Final = frozenset(
    {
        "During handling of the above exception, another exception occurred:",
        "The above exception was the direct cause of the following exception:",
    }
)
# The last line of a traceback: a (dotted) exception name, optionally ": message".
_TB_FINAL: Final = re.compile(r"^[A-Za-z_][\w.]*(?::.*)?$")

_JSON_LEVEL_KEYS: Final = ("level", "levelname", "severity", "lvl", "log.level")
MESSAGE_KEYS: Final = ("event", "msg", "message")

# A traceback longer than this is cut into several records rather than held without bound.
MAX_GROUP_LINES: Final = 2000


def level_from_word(word: str) -> int | None:
    """The numeric level of a level name in any common spelling, or None."""
    return _LEVEL_WORDS.get(word.lower())


def level_from_value(value: Any) -> int | None:
    """The level of a JSON `level` field: a name or a stdlib number."""
    if isinstance(value, str):
        return level_from_word(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        if value >= CRITICAL:
            return CRITICAL
        for number in (ERROR, WARNING, INFO):
            if value >= number:
                return number
        return DEBUG
    return None


# Candidates for `_upper_word`: a longer word is tried before its own prefix (CRITICAL before
# CRIT), and the scanning happens in C instead of one `str.find` per word.
_UPPER_RE: Final = re.compile("|".join(_UPPER_WORDS))


def _upper_word(head: str) -> tuple[int, str] | None:
    """The first upper-case level word standing alone (not inside a longer word) in `head`."""
    # A candidate rejected for a letter next to it cannot hide a valid word: a shorter word at
    # the same place has the same neighbour before it and a letter after it, and a word starting
    # inside the candidate has a letter before it.
    # Every level word holds an E, I or A: most lines without a level skip the regex.
    if "E" not in head and "I" not in head and "A" not in head:
        return None
    match = _UPPER_RE.search(head)
    while match is not None:
        pos, end = match.span()
        if (pos == 0 or not head[pos - 1].isalpha()) and (
            end >= len(head) or not head[end].isalpha()
        ):
            return pos, match.group()
        match = _UPPER_RE.search(head, end)
    return None


def parse_plain_level(text: str) -> int | None:
    """The level a plain text line announces near its start, or None when it names none."""
    head = text[:_PREFIX_SCAN]
    found = _upper_word(head)
    if "[" in head or "<" in head or "level" in head:
        for match in _TAGGED_RE.finditer(head):
            if found is not None and match.start() > found[0]:
                break
            level = level_from_word(match.group("b") or match.group("a") or match.group("kv"))
            if level is not None:
                return level
    return None if found is None else _LEVEL_WORDS[found[1].lower()]


def plain_level(text: str, stream: str) -> int:
    """A plain line's level: the one it names, else INFO on stdout and WARNING on stderr."""
    level = parse_plain_level(text)
    if level is not None:
        return level
    return INFO if stream == "stdout" else WARNING


def looks_severe(text: str, stream: str, *, in_traceback: bool = False) -> bool:
    """Quick check used when the queue is full: could this line become an ERROR+ record?

    `in_traceback` (see `TracebackTracker`) says the line continues a traceback on its stream:
    such a line is kept so that a traceback is never cut in half by dropping. Outside a
    traceback, indented and blank lines are ordinary lines.
    """
    if in_traceback:
        return True
    if text[:1] == "{":
        fields = parse_json_object(text)
        if fields is not None:
            return json_level(fields, stream) >= ERROR
    if stream == "stderr" and _TB_HEADER.match(text):
        return True
    level = parse_plain_level(text)
    return level is not None and level >= ERROR


_TB_MARK: Final = "Traceback (most recent call last):"
_TB_MARK_BYTES: Final = _TB_MARK.encode()


class TracebackTracker:
    """Which instances' stderr is inside a traceback, judged line by line as lines are submitted.

    The sink's callers use it (not the writer's parser, which lags behind the queue) to tell a
    traceback's frames from any other indented or blank line. A loose mirror of `StreamParser`:
    a header opens a traceback; indented, blank, chain and final lines keep it open; any other
    line closes it. Thread-safe enough for one submitting thread per instance and stream.
    """

    __slots__ = ("_open",)

    def __init__(self) -> None:
        self._open: set[str] = set()

    def step(self, instance: str, line: bytes | str) -> bool:
        """Feed one stderr line; True when it belongs to a traceback."""
        opened = self._open
        if instance not in opened:
            if isinstance(line, bytes):
                if _TB_MARK_BYTES not in line:
                    return False
            elif _TB_MARK not in line:
                return False
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        text = text.rstrip("\r\n")
        if _TB_HEADER.match(text):
            opened.add(instance)
            return True
        if instance in opened:
            stripped = text.strip()
            if (
                text[:1] in (" ", "\t")
                or stripped == ""
                or stripped in _TB_CHAIN
                or _TB_FINAL.match(stripped)
            ):
                return True
            opened.discard(instance)
        return False


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The line as a JSON object, or None when it is anything else."""
    if not text.startswith("{"):
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def json_level(fields: dict[str, Any], stream: str) -> int:
    """The level of a JSON record: its own level field, else the stream's default."""
    for key in _JSON_LEVEL_KEYS:
        if key in fields:
            level = level_from_value(fields[key])
            if level is not None:
                return level
    return INFO if stream == "stdout" else WARNING


def json_message(fields: dict[str, Any]) -> str:
    """The record's message text."""
    for key in MESSAGE_KEYS:
        value = fields.get(key)
        if value is not None:
            return value if isinstance(value, str) else str(value)
    return ""


@dataclass(slots=True)
class Record:
    """One log record of one instance, ready to render.

    `fields` is set for JSON lines (the child's own fields) and for records of our own logger
    (`own`: the level is authoritative and no timestamp field is expected); `text` is the whole
    plain text, which for a traceback spans several lines. `lines` counts the input lines it
    stands for.
    """

    ts: float
    level: int
    stream: str
    text: str
    fields: dict[str, Any] | None = None
    lines: int = 1
    traceback: bool = False
    own: bool = False


@dataclass(slots=True)
class _Group:
    ts: float
    lines: list[str] = field(default_factory=list)
    exception_group: bool = False
    after_final: bool = False


def _after_chain(lines: list[str]) -> bool:
    """Whether the last line that is not blank is a chain line."""
    for line in reversed(lines):
        stripped = line.strip()
        if stripped:
            return stripped in _TB_CHAIN
    return False


class StreamParser:
    """Turns the lines of one stream of one instance into records, grouping tracebacks.

    A traceback is held until a line that cannot belong to it arrives, or until the owner calls
    `flush()` (the sink does so once a stream has been quiet for a moment), because a chained
    exception only shows after the first one's last line.
    """

    __slots__ = ("_group", "stream")

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self._group: _Group | None = None

    @property
    def pending(self) -> bool:
        """True while a traceback is held back waiting for its end."""
        return self._group is not None

    def feed(self, text: str, ts: float) -> list[Record]:
        """Records completed by this line (usually exactly one; none while a traceback grows)."""
        group = self._group
        if group is not None:
            if self._absorb(group, text):
                if len(group.lines) >= MAX_GROUP_LINES:
                    return self.flush()
                return []
            done = self.flush()
            done.extend(self.feed(text, ts))
            return done
        stream = self.stream
        if stream == "stderr":
            header = _TB_HEADER.match(text)
            if header is not None:
                self._group = _Group(ts, [text], exception_group=bool(header.group(1)))
                return []
        if text[:1] == "{":
            fields = parse_json_object(text)
            if fields is not None:
                return [Record(ts, json_level(fields, stream), stream, text, fields)]
        level = parse_plain_level(text)
        if level is None:
            level = INFO if stream == "stdout" else WARNING
        return [Record(ts, level, stream, text)]

    def _absorb(self, group: _Group, text: str) -> bool:
        """Add the line to the traceback if it belongs there; say whether it did."""
        header = _TB_HEADER.match(text)
        if header is not None:
            # A header continues the record only after a chain line ("During handling ...",
            # then a blank line); after anything else, a blank line included, it starts a new
            # traceback.
            if not group.after_final or not _after_chain(group.lines):
                return False
            group.lines.append(text)
            group.exception_group = bool(header.group(1))
            group.after_final = False
            return True
        if text[:1] in (" ", "\t"):
            if group.after_final:
                return False
            group.lines.append(text)
            return True
        stripped = text.strip()
        if stripped == "" or stripped in _TB_CHAIN:
            if not (group.after_final or group.exception_group):
                return False
            group.lines.append(text)
            group.after_final = True
            return True
        if group.after_final or group.exception_group:
            return False
        if _TB_FINAL.match(stripped):
            group.lines.append(text)
            group.after_final = True
            return True
        return False

    def flush(self) -> list[Record]:
        """Emit the held traceback, if any, as one ERROR record."""
        group = self._group
        if group is None:
            return []
        self._group = None
        lines = group.lines
        count = len(lines)
        # Trailing blank lines and chain markers with nothing after them are noise.
        while len(lines) > 1 and (lines[-1].strip() == "" or lines[-1] in _TB_CHAIN):
            lines.pop()
        return [
            Record(
                group.ts,
                ERROR,
                self.stream,
                "\n".join(lines),
                lines=count,
                traceback=True,
            )
        ]


def traceback_summary(text: str) -> str:
    """The last line of a traceback (`ValueError: boom`), the part worth a glance."""
    for line in reversed(text.splitlines()):
        stripped = line.strip()
        if stripped and not stripped.startswith(("+-", "+--")):
            return stripped.lstrip("| ").strip()
    return text
