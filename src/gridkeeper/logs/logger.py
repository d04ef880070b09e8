"""Our processes' logger: one orjson line (or a readable line) per record.

`get_logger()` returns a small bound logger with structlog's calling convention
(`log.info("event", key=value)`, `.bind()`, `.exception()`); `structlog.get_logger()` and stdlib
`logging` records go through the same pipeline. Every logger reads the current pipeline at each
call, so `configure_logging()` also re-points loggers created before it.

When the stream is a LogSink's stream, the caller only hands over the record's fields; the sink's
writer thread renders them. Otherwise the caller renders and writes the line itself.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping, MutableMapping
from types import TracebackType
from typing import Any, Final, TextIO, cast

from gridkeeper.logs.records import LEVEL_NAMES
from gridkeeper.logs.redact import Redactor
from gridkeeper.logs.render import dumps
from gridkeeper.logs.streams import SinkStream
from gridkeeper.logs.timefmt import TimestampFormatter

DEBUG: Final = logging.DEBUG
INFO: Final = logging.INFO
WARNING: Final = logging.WARNING
ERROR: Final = logging.ERROR
CRITICAL: Final = logging.CRITICAL

_LEVELS: Final[dict[str, int]] = {
    "debug": DEBUG,
    "info": INFO,
    "warning": WARNING,
    "warn": WARNING,
    "error": ERROR,
    "critical": CRITICAL,
}
_METHOD_LEVELS: Final[dict[str, int]] = {
    **_LEVELS,
    "msg": INFO,
    "exception": ERROR,
    "fatal": CRITICAL,
}
_RESERVED: Final = frozenset({"ts", "level", "logger", "event"})
# Keys that need work before a record is handed on; one C-level check for the usual record.
_SPECIAL: Final = _RESERVED | {"exc_info", "stack_info"}
_COLORS: Final[dict[int, str]] = {
    DEBUG: "\x1b[2m",
    INFO: "\x1b[32m",
    WARNING: "\x1b[33m",
    ERROR: "\x1b[31m",
    CRITICAL: "\x1b[1;31m",
}
_RESET: Final = "\x1b[0m"

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _canonical(level: int) -> int:
    """Round a stdlib level (e.g. 25) down to the nearest named one."""
    for number in (CRITICAL, ERROR, WARNING, INFO):
        if level >= number:
            return number
    return DEBUG


def _exc_text(value: Any) -> str | None:
    info: _ExcInfo | tuple[None, None, None]
    if isinstance(value, BaseException):
        info = (type(value), value, value.__traceback__)
    elif isinstance(value, tuple):
        info = cast(_ExcInfo, value)
    elif value:
        info = sys.exc_info()
    else:
        return None
    if info[0] is None:
        return None
    return "".join(traceback.format_exception(*info)).rstrip("\n")


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class _Pipeline:
    """One configuration: level, renderer, redaction and where records go."""

    def __init__(self, level: int, *, json: bool, stream: TextIO, redactor: Redactor) -> None:
        self.min_level = level
        self.json = json
        self.stream = stream
        self.redactor = redactor
        self.colors = not json and _isatty(stream)
        self._fmt = TimestampFormatter()
        self._lock = threading.Lock()
        self.to_sink = stream.write_record if isinstance(stream, SinkStream) else None

    def emit(self, level: int, name: str | None, event: Any, fields: dict[str, Any]) -> None:
        """Write one record. `fields` is a fresh dict this call may keep."""
        if not _SPECIAL.isdisjoint(fields):
            if "exc_info" in fields:
                text = _exc_text(fields.pop("exc_info"))
                if text:
                    fields["exception"] = text
            fields.pop("stack_info", None)
            if not _RESERVED.isdisjoint(fields):
                fields = {(f"field_{k}" if k in _RESERVED else k): v for k, v in fields.items()}
        if not isinstance(event, str):
            event = str(event)
        to_sink = self.to_sink
        if to_sink is not None:
            # `fields` is ours to keep: handed over as it is, rendered by the writer thread.
            to_sink(time.time(), level, name, event, fields)
            return
        out: dict[str, Any] = {
            "ts": self._fmt(time.time()),
            "level": LEVEL_NAMES[_canonical(level)],
            "logger": name,
            "event": event,
        }
        if fields:
            out.update(fields)
        text = dumps(out).decode() if self.json else self._human(level, out)
        if self.redactor.active:
            text = self.redactor(text)
        with self._lock:
            try:
                self.stream.write(text + "\n")
                self.stream.flush()
            except (OSError, ValueError):
                # A closed or broken stream must not take the program down with it.
                pass

    def _human(self, level: int, out: Mapping[str, Any]) -> str:
        name = f"{out['level'].upper():<8}"
        if self.colors:
            name = f"{_COLORS[_canonical(level)]}{name}{_RESET}"
        logger = out["logger"]
        parts = [out["ts"], name, f"{logger}: {out['event']}" if logger else str(out["event"])]
        exception = None
        for key, value in out.items():
            if key in _RESERVED:
                continue
            if key == "exception":
                exception = value
                continue
            shown = value if isinstance(value, str) and " " not in value else dumps(value).decode()
            parts.append(f"{key}={shown}")
        line = " ".join(parts)
        return f"{line}\n{exception}" if exception else line


_redactor = Redactor()
_pipeline = _Pipeline(INFO, json=True, stream=sys.stderr, redactor=_redactor)
_bridge: logging.Handler | None = None
_structlog_configured = False


class Logger:
    """A bound logger: `log.info("order placed", price=101.5)`; `bind()` adds context.

    The same calling convention as structlog's bound loggers, without their per-call
    processor machinery (the caller's cost is what the operator's bot pays for every line).
    """

    __slots__ = ("_context", "_name")

    def __init__(self, name: str | None, context: dict[str, Any] | None = None) -> None:
        self._name = name
        self._context = context or {}

    @property
    def name(self) -> str | None:
        """The logger's name, written as `logger`."""
        return self._name

    def bind(self, **values: Any) -> Logger:
        """A logger that adds these fields to every record."""
        return Logger(self._name, {**self._context, **values})

    def unbind(self, *keys: str) -> Logger:
        """A logger without these context fields."""
        return Logger(self._name, {k: v for k, v in self._context.items() if k not in keys})

    def new(self, **values: Any) -> Logger:
        """A logger with only these context fields."""
        return Logger(self._name, dict(values))

    def is_enabled_for(self, level: int) -> bool:
        """Whether a record of this stdlib level would be written."""
        return level >= _pipeline.min_level

    def _emit(self, level: int, event: Any, args: tuple[Any, ...], fields: dict[str, Any]) -> None:
        pipeline = _pipeline
        if level < pipeline.min_level:
            return
        if args:
            event = str(event) % args
        if self._context:
            fields = {**self._context, **fields}
        to_sink = pipeline.to_sink
        if to_sink is not None and type(event) is str and _SPECIAL.isdisjoint(fields):
            # The keeper's usual record: nothing to rename or format, straight to the sink.
            to_sink(time.time(), level, self._name, event, fields)
            return
        pipeline.emit(level, self._name, event, fields)

    def debug(self, event: Any, *args: Any, **fields: Any) -> None:
        """Log at DEBUG."""
        self._emit(DEBUG, event, args, fields)

    def info(self, event: Any, *args: Any, **fields: Any) -> None:
        """Log at INFO."""
        self._emit(INFO, event, args, fields)

    def warning(self, event: Any, *args: Any, **fields: Any) -> None:
        """Log at WARNING."""
        self._emit(WARNING, event, args, fields)

    warn = warning

    def error(self, event: Any, *args: Any, **fields: Any) -> None:
        """Log at ERROR."""
        self._emit(ERROR, event, args, fields)

    def exception(self, event: Any, *args: Any, **fields: Any) -> None:
        """Log at ERROR with the exception being handled (its formatted traceback)."""
        fields.setdefault("exc_info", True)
        self._emit(ERROR, event, args, fields)

    def critical(self, event: Any, *args: Any, **fields: Any) -> None:
        """Log at CRITICAL."""
        self._emit(CRITICAL, event, args, fields)

    fatal = critical

    def log(self, level: int, event: Any, *args: Any, **fields: Any) -> None:
        """Log at a stdlib level number."""
        self._emit(level, event, args, fields)


def _structlog_processor(
    _logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> Any:
    """Routes plain `structlog.get_logger()` calls into the same pipeline."""
    pipeline = _pipeline
    level = _METHOD_LEVELS.get(method_name, INFO)
    if level >= pipeline.min_level:
        name = event_dict.pop("logger", None)
        event = event_dict.pop("event", "")
        pipeline.emit(level, name, event, dict(event_dict))
    import structlog  # already imported: this processor exists only once structlog is configured

    raise structlog.DropEvent


class _StdlibBridge(logging.Handler):
    """Sends stdlib `logging` records (third-party libraries) through our pipeline."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = {}
            if record.exc_info and record.exc_info[0] is not None:
                fields["exc_info"] = record.exc_info
            _pipeline.emit(record.levelno, record.name, record.getMessage(), fields)
        except Exception:
            self.handleError(record)

    def handle(self, record: logging.LogRecord) -> bool:
        # The pipeline does its own locking; the handler lock would only serialize callers.
        if self.filter(record):
            self.emit(record)
            return True
        return False


def configure_logging(
    level: str = "info",
    *,
    json: bool | None = None,
    stream: TextIO | None = None,
    redact: Iterable[str] = (),
    route_structlog: bool = True,
) -> None:
    """Set where and how every logger of this process writes.

    `route_structlog=False` leaves structlog unimported: the keeper daemon never uses it and
    saves the memory (structlog pulls in rich and pygments).

    `json=None` picks readable lines for a terminal and JSON lines otherwise (a LogSink stream
    always gets records, which the sink renders). Records of the stdlib `logging` module go
    through the same renderer. Values in `redact` (and in every earlier `add_redactions()`
    call: a secret stays masked for the life of the process) are written as `***`.
    """
    global _pipeline, _bridge, _structlog_configured
    try:
        min_level = _LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}; use one of {sorted(_LEVELS)}") from None
    target = stream if stream is not None else sys.stderr
    use_json = (not _isatty(target)) if json is None else json
    _redactor.add(redact)
    if isinstance(target, SinkStream):
        target.add_redactor(_redactor)
    _pipeline = _Pipeline(min_level, json=use_json, stream=target, redactor=_redactor)

    root = logging.getLogger()
    if _bridge is not None:
        root.removeHandler(_bridge)
    _bridge = _StdlibBridge()
    root.addHandler(_bridge)
    root.setLevel(min_level)
    if route_structlog and not _structlog_configured:
        import structlog

        structlog.configure(
            processors=[_structlog_processor],
            logger_factory=structlog.ReturnLoggerFactory(),
            cache_logger_on_first_use=True,
        )
        _structlog_configured = True


def get_logger(name: str) -> Logger:
    """A logger named `name` (written as the `logger` field)."""
    return Logger(name)


def log_event(logger: Logger, event: str, **fields: Any) -> None:
    """A structured business event (an order filled, a bot started): INFO with `kind: event`."""
    fields.pop("kind", None)
    logger.info(event, kind="event", **fields)


def add_redactions(values: Iterable[str]) -> int:
    """Mask these values as *** in everything this process logs from now on.

    Returns how many were shorter than MIN_SECRET_LEN (6) characters and are therefore not
    masked: the caller should warn the operator (by count, never by value).
    """
    return _redactor.add(values)
