"""The three files of one instance and how a record lands in them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gridkeeper.logs.records import ERROR, StreamParser
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
        # Per stream; read directly by the writer thread's hot path.
        self.parsers = {"stdout": StreamParser("stdout"), "stderr": StreamParser("stderr")}
        # Rendering appends to the renderer's batch; flush() writes it. Bound methods, not
        # wrappers: one Python call per record less on the writer's hot path.
        self.write = self._renderer.add
        self.write_own = self._renderer.add_own

    def parser(self, stream: str) -> StreamParser:
        """The parser of one stream (created for any stream name the sink is given)."""
        parser = self.parsers.get(stream)
        if parser is None:
            parser = self.parsers[stream] = StreamParser(stream)
        return parser

    def flush(self, now: float, redact: Redactor | None) -> None:
        """Mask, encode and write this batch's lines: one write per file.

        All three files are attempted; the first OSError is raised afterwards.
        """
        failure: OSError | None = None
        lines, error_lines, records = self._renderer.take()
        batches: tuple[tuple[RotatingFile, list[str] | list[bytes]], ...] = (
            (self._main, lines),
            (self._errors, error_lines),
            (self._structured, records),
        )
        for index, (file, batch) in enumerate(batches):
            if not batch:
                continue
            lost = file.lost_lines
            if lost:
                # Say what a full disk cost, in the same write as the next batch: the notice
                # lands only when writing works again (not in the last free bytes of a full
                # disk, between two failures).
                file.lost_lines = 0
                notice = self._lost_notice(now, lost)[index]
                if isinstance(notice, bytes):
                    batch = [notice, *(b for b in batch if isinstance(b, bytes))]
                else:
                    batch = [notice, *(t for t in batch if isinstance(t, str))]
            try:
                _put(file, batch, now, redact)
            except OSError as exc:
                if lost:
                    file.lost_lines += lost - 1  # the notice was counted as a lost line
                failure = failure or exc
        if failure is not None:
            raise failure

    @property
    def lost_lines(self) -> int:
        """Lines dropped by failed writes and not yet reported in the files."""
        return sum(f.lost_lines for f in (self._main, self._errors, self._structured))

    def _lost_notice(self, now: float, lost: int) -> tuple[str, str, bytes]:
        """The "lost N lines" record as (readable, errors, structured) lines."""
        renderer = Renderer(self.instance, TimestampFormatter())
        renderer.add_own(
            now,
            ERROR,
            "sink",
            "gridkeeper.logs",
            f"log writes failed (disk full?): lost {lost} lines",
            {"lost": lost},
        )
        lines, error_lines, records = renderer.take()
        return lines[0], error_lines[0], records[0]

    def release_if_gone(self) -> int:
        """Close those of the three files that were deleted or replaced; how many were."""
        return sum(f.release_if_gone() for f in (self._main, self._errors, self._structured))

    def close(self, now: float, redact: Redactor | None) -> None:
        """Flush and close the three files."""
        try:
            self.flush(now, redact)
        finally:
            for file in (self._main, self._errors, self._structured):
                file.close()


def _encode(line: str | bytes) -> bytes:
    return line if isinstance(line, bytes) else line.encode("utf-8", "backslashreplace")


def _put(
    file: RotatingFile, lines: list[str] | list[bytes], now: float, redact: Redactor | None
) -> None:
    """Write the lines of one batch to `file`, masked, rotating between records as needed."""
    if redact is None or not redact.crosses_lines:
        if isinstance(lines[0], bytes):
            data = b"".join(lines)
        else:
            data = "".join(lines).encode("utf-8", "backslashreplace")
        if redact is not None:
            data = redact.redact_bytes(data)
        if file.fits(len(data), now):
            file.append(data, now)
            file.flush()
            return
    # The batch spans a rotation (or a secret spans lines): record by record, as append() rotates
    # before the record that would not fit. A failed rotation costs its record, not the batch.
    failure: OSError | None = None
    for line in lines:
        data = _encode(line)
        try:
            file.append(data if redact is None else redact.redact_bytes(data), now)
        except OSError as exc:
            failure = failure or exc
    file.flush()
    if failure is not None:
        raise failure
