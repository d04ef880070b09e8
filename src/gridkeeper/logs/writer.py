"""The three files of one instance and how a record lands in them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gridkeeper.logs.records import ERROR, Record, StreamParser
from gridkeeper.logs.redact import Redactor
from gridkeeper.logs.render import Renderer
from gridkeeper.logs.retention import current_name
from gridkeeper.logs.rotation import RotatingFile, RotationPolicy
from gridkeeper.logs.timefmt import TimestampFormatter


class InstanceLog:
    """`<instance>.log`, `<instance>_errors.log` and `<instance>_structured.log` in one directory,
    plus the per-stream parsers that group tracebacks. Used by the sink's writer thread only."""

    def __init__(
        self,
        directory: Path,
        instance: str,
        *,
        max_bytes: int,
        daily: bool,
        on_rotated: Callable[[Path], None],
        fmt: TimestampFormatter,
    ) -> None:
        self.instance = instance
        policy = RotationPolicy(max_bytes=max_bytes, daily=daily)
        self._renderer = Renderer(instance, fmt)
        self._main = RotatingFile(directory / current_name(instance, "log"), policy, on_rotated)
        self._errors = RotatingFile(
            directory / current_name(instance, "errors"), policy, on_rotated
        )
        self._structured = RotatingFile(
            directory / current_name(instance, "structured"), policy, on_rotated
        )
        self._parsers = {"stdout": StreamParser("stdout"), "stderr": StreamParser("stderr")}

    def parser(self, stream: str) -> StreamParser:
        """The parser of one stream (created for any stream name the sink is given)."""
        parser = self._parsers.get(stream)
        if parser is None:
            parser = self._parsers[stream] = StreamParser(stream)
        return parser

    def write(self, record: Record, now: float, redact: Redactor | None) -> None:
        """Buffer the record's lines in the files it belongs to."""
        self._store(*self._renderer.render(record), record.level, now, redact)

    def write_own(
        self,
        ts: float,
        level: int,
        stream: str,
        fields: dict[str, Any],
        now: float,
        redact: Redactor | None,
    ) -> None:
        """`write()` for a record of our own logger, without building a Record."""
        self._store(*self._renderer.render_own(ts, level, stream, fields), level, now, redact)

    def _store(
        self, readable: str, structured: bytes, level: int, now: float, redact: Redactor | None
    ) -> None:
        if redact is not None:
            readable = redact(readable)
            structured = redact(structured.decode()).encode()
        data = readable.encode()
        self._main.append(data, now)
        if level >= ERROR:
            self._errors.append(data, now)
        self._structured.append(structured, now)

    def flush(self) -> None:
        """Write every buffered line of the three files."""
        self._main.flush()
        self._errors.flush()
        self._structured.flush()

    def close(self) -> None:
        """Flush and close the three files."""
        for file in (self._main, self._errors, self._structured):
            file.close()
