"""Our processes' logger: structlog in front, one orjson line (or a readable line) per record.

Every logger reads the current pipeline at each call, so `configure_logging()` also re-points
loggers created before it (module-level `log = get_logger(__name__)` is the usual pattern).
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

import structlog
from structlog.typing import FilteringBoundLogger

from gridkeeper.logs.records import LEVEL_NAMES
from gridkeeper.logs.redact import Redactor
from gridkeeper.logs.render import dumps
from gridkeeper.logs.streams import SinkStream
from gridkeeper.logs.timefmt import TimestampFormatter

_LEVELS: Final[dict[str, int]] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_METHOD_LEVELS: Final[dict[str, int]] = {
    **_LEVELS,
    "msg": logging.INFO,
    "exception": logging.ERROR,
    "fatal": logging.CRITICAL,
}
_RESERVED: Final = frozenset({"ts", "level", "logger", "event"})
_COLORS: Final[dict[int, str]] = {
    logging.DEBUG: "\x1b[2m",
    logging.INFO: "\x1b[32m",
    logging.WARNING: "\x1b[33m",
    logging.ERROR: "\x1b[31m",
    logging.CRITICAL: "\x1b[1;31m",
}
_RESET: Final = "\x1b[0m"

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _canonical(level: int) -> int:
    """Round a stdlib level (e.g. 25) down to the nearest named one."""
    for number in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO):
        if level >= number:
            return number
    return logging.DEBUG


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


class _Pipeline:
    """One configuration: level, renderer, redaction and where lines go."""

    def __init__(self, level: int, *, json: bool, stream: TextIO, redactor: Redactor) -> None:
        self.min_level = level
        self.json = json
        self.stream = stream
        self.redactor = redactor
        self.colors = not json and _isatty(stream)
        self._fmt = TimestampFormatter()
        self._lock = threading.Lock()
        self._sink = stream if isinstance(stream, SinkStream) else None

    def record(self, level: int, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
        """The ordered output fields: ts, level, logger, event, then the rest."""
        out: dict[str, Any] = {
            "ts": self._fmt(time.time()),
            "level": LEVEL_NAMES[_canonical(level)],
            "logger": event_dict.pop("logger", None),
            "event": event_dict.pop("event", ""),
        }
        if "exc_info" in event_dict:
            text = _exc_text(event_dict.pop("exc_info"))
            if text:
                event_dict["exception"] = text
        event_dict.pop("stack_info", None)
        if event_dict:
            if _RESERVED.isdisjoint(event_dict):
                out.update(event_dict)
            else:
                for key, value in event_dict.items():
                    out[key if key not in _RESERVED else f"field_{key}"] = value
        return out

    def emit(self, level: int, event_dict: MutableMapping[str, Any]) -> None:
        """Render one record and write it."""
        out = self.record(level, event_dict)
        if self.json:
            data = dumps(out)
            if self._sink is not None and not self.redactor.active:
                self._sink.write_line(data)
                return
            text = data.decode()
        else:
            text = self._human(level, out)
        if self.redactor.active:
            text = self.redactor(text)
        if self._sink is not None:
            self._sink.write_line(text)
            return
        with self._lock:
            try:
                self.stream.write(text + "\n")
                self.stream.flush()
            except (OSError, ValueError):
                # A closed or broken stream must not take the program down with it.
                pass

    def _human(self, level: int, out: Mapping[str, Any]) -> str:
        name = out["level"].upper()
        name = f"{name:<8}"
        if self.colors:
            name = f"{_COLORS[_canonical(level)]}{name}{_RESET}"
        parts = [out["ts"], name]
        logger = out["logger"]
        parts.append(f"{logger}: {out['event']}" if logger else str(out["event"]))
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


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


_redactor = Redactor()
_pipeline = _Pipeline(logging.INFO, json=True, stream=sys.stderr, redactor=_redactor)
_configured = False


def _process(_logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
    """The whole structlog chain in one processor: filter, render, write."""
    pipeline = _pipeline
    level = _METHOD_LEVELS.get(method_name, logging.INFO)
    if level < pipeline.min_level:
        raise structlog.DropEvent
    pipeline.emit(level, event_dict)
    # The line is written; structlog then hands this to the output object, which ignores it.
    return ""


def _noop(*_args: Any, **_kwargs: Any) -> None:
    return None


class _Discard:
    """structlog's output object. Writing happens in `_process`, so every method does nothing."""

    msg = debug = info = warning = warn = error = exception = critical = fatal = log = staticmethod(
        _noop
    )


_DISCARD: Final = _Discard()
# Level filtering happens in `_process` (it can change after a logger exists), so the class
# structlog generates lets every level through.
_Wrapper: Final[type[Any]] = structlog.make_filtering_bound_logger(logging.NOTSET)


class _StdlibBridge(logging.Handler):
    """Sends stdlib `logging` records (third-party libraries) through our renderer."""

    def emit(self, record: logging.LogRecord) -> None:
        pipeline = _pipeline
        try:
            event_dict: dict[str, Any] = {"logger": record.name, "event": record.getMessage()}
            if record.exc_info and record.exc_info[0] is not None:
                event_dict["exc_info"] = record.exc_info
            pipeline.emit(record.levelno, event_dict)
        except Exception:
            self.handleError(record)


_bridge: _StdlibBridge | None = None


def configure_logging(
    level: str = "info",
    *,
    json: bool | None = None,
    stream: TextIO | None = None,
    redact: Iterable[str] = (),
) -> None:
    """Set where and how every logger of this process writes.

    `json=None` picks readable lines for a terminal and JSON lines otherwise. Records of the
    stdlib `logging` module go through the same renderer. Values in `redact` (and in every
    earlier `add_redactions()` call: a secret stays masked for the life of the process) are
    written as `***`.
    """
    global _pipeline, _bridge, _configured
    try:
        min_level = _LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}; use one of {sorted(_LEVELS)}") from None
    target = stream if stream is not None else sys.stderr
    use_json = (not _isatty(target)) if json is None else json
    _redactor.add(redact)
    _pipeline = _Pipeline(min_level, json=use_json, stream=target, redactor=_redactor)

    root = logging.getLogger()
    if _bridge is not None:
        root.removeHandler(_bridge)
    _bridge = _StdlibBridge()
    root.addHandler(_bridge)
    root.setLevel(min_level)
    if not _configured:
        # Plain `structlog.get_logger()` calls elsewhere get the same pipeline.
        structlog.configure(
            processors=[_process],
            wrapper_class=_Wrapper,
            logger_factory=lambda *_args: _DISCARD,
            cache_logger_on_first_use=True,
        )
        _configured = True


def get_logger(name: str) -> FilteringBoundLogger:
    """A logger: `log.info("event", key=value)`, `.bind(...)`, `.exception(...)` and so on."""
    return cast(FilteringBoundLogger, _Wrapper(_DISCARD, [_process], {"logger": name}))


def log_event(logger: FilteringBoundLogger, event: str, **fields: Any) -> None:
    """A structured business event (an order filled, a bot started): INFO with `kind: event`."""
    fields.pop("kind", None)
    logger.info(event, kind="event", **fields)


def add_redactions(values: Iterable[str]) -> None:
    """Mask these values as *** in everything this process logs from now on."""
    _redactor.add(values)
