"""The writer thread of LogSink (logs/sink.py): takes what callers queued, parses captured lines
into records (holding a traceback's first lines until it is complete), renders, redacts and
writes them per instance, reports dropped lines, closes files someone deleted, and runs the
housekeeping ticks. Only this thread touches the log files.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Final

from gridkeeper.logs.housekeeping import Housekeeper
from gridkeeper.logs.records import ERROR, WARNING, Record
from gridkeeper.logs.redact import Redactor
from gridkeeper.logs.sink_config import SinkConfig
from gridkeeper.logs.timefmt import TimestampFormatter
from gridkeeper.logs.writer import InstanceLog

# A traceback is held this long after its last line for a chained exception to follow.
GROUP_QUIET_S: Final = 0.2
# How often open files are checked for having been deleted: a deleted file of a quiet instance
# must not hold its disk space for more than a second (docs/logs.md).
GONE_CHECK_S: Final = 0.5
# The writer flushes its file buffers at least every this many lines of a long batch.
_BATCH_LINES: Final = 4096


class Marker:
    """A flush or stop request travelling through the queue behind the lines before it."""

    __slots__ = ("done", "stop")

    def __init__(self, *, stop: bool) -> None:
        self.stop = stop
        self.done = threading.Event()


# (instance, stream, payload, ts, level, logger, event): payload is a captured line (level -1,
# parsed by the writer; logger and event unused) or the other fields of one of our own records
# (level known). One flat tuple per record: the caller copies nothing.
Item = tuple[str, str, Any, float, int, str | None, str]


class SinkWriter:
    """The writer thread's half of LogSink: LogSink.__init__ sets up these fields; the writer
    thread runs `_run`."""

    _config: SinkConfig
    _queue: deque[Item | Marker]
    _wake: threading.Event
    _redactor: Redactor
    _drop_lock: threading.Lock
    _drops: dict[str, int]
    _severe_drops: dict[str, int]
    # Owned by the writer thread.
    _logs: dict[str, InstanceLog]
    _dirs: dict[str, Path]  # instances whose logs live outside log_dir
    _held: dict[tuple[str, str], float]
    _fmt: TimestampFormatter
    _dequeued: int
    _written: int
    _rotations: int
    _write_errors: int
    _released: int  # files closed because someone deleted (or replaced) them
    _next_gone_check: float
    _batch_now: float
    _batch_redact: Redactor | None
    _housekeeper: Housekeeper

    def _run(self) -> None:
        stop = False
        while not stop:
            self._wake.wait(self._wait_timeout())
            self._wake.clear()
            try:
                stop = self._drain()
                self._release_gone()
                self._housekeeper.tick()
            except Exception as exc:  # the writer must outlive any bug in one record
                self._report(f"writer error: {exc!r}")
        self._begin_batch()
        for log in self._logs.values():
            with contextlib.suppress(OSError):
                log.close(self._batch_now, self._batch_redact)

    def _drain(self) -> bool:
        queue = self._queue
        logs = self._logs
        count = 0
        self._begin_batch()
        while queue:
            item = queue.popleft()
            if isinstance(item, Marker):
                self._finish_batch(release_all=True)
                item.done.set()
                if item.stop:
                    return True
                continue
            self._dequeued += 1
            instance, stream, payload, ts, level, logger, event = item
            try:
                if level < 0:
                    self._feed(instance, stream, payload, ts)
                else:
                    log = logs.get(instance) or self._log(instance)
                    if log is not None:
                        log.write_own(ts, level, stream, logger, event, payload)
                        self._written += 1
            except Exception as exc:  # one record that cannot be rendered costs only itself
                self._write_errors += 1
                self._report(f"cannot write a record of {instance}: {exc!r}")
            count += 1
            if count >= _BATCH_LINES:
                self._flush_files()
                self._begin_batch()
                count = 0
        self._finish_batch(release_all=False)
        return False

    def _feed(self, instance: str, stream: str, line: bytes | str, ts: float) -> None:
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        text = text.rstrip("\r\n")
        log = self._logs.get(instance) or self._log(instance)
        if log is None:
            return
        parser = log.parsers.get(stream) or log.parser(stream)
        if "\n" in text:
            for part in text.split("\n"):
                self._write(log, parser.feed(part.rstrip("\r"), ts))
        else:
            self._write(log, parser.feed(text, ts))
        if parser.pending:
            self._held[(instance, stream)] = time.monotonic() + GROUP_QUIET_S
        elif self._held:
            self._held.pop((instance, stream), None)

    def _log(self, instance: str) -> InstanceLog | None:
        log = self._logs.get(instance)
        if log is not None:
            return log
        try:
            log = InstanceLog(
                self._dirs.get(instance, self._config.log_dir / instance),
                instance,
                max_bytes=self._config.rotate_bytes,
                daily=self._config.rotate_daily,
                on_rotated=self._on_rotated,
                fmt=self._fmt,
            )
        except OSError as exc:
            self._write_errors += 1
            self._report(f"cannot open the logs of {instance}: {exc}")
            return None
        self._logs[instance] = log
        return log

    def _on_rotated(self, path: Path) -> None:
        self._rotations += 1
        self._housekeeper.rotated(path)

    def _begin_batch(self) -> None:
        # One clock reading and one redaction check per batch, not per record.
        self._batch_now = time.time()
        self._batch_redact = self._redactor if self._redactor.active else None

    def _write(self, log: InstanceLog, records: list[Record]) -> None:
        for record in records:
            log.write(record)
            self._written += record.lines

    def _wait_timeout(self) -> float | None:
        waits = [self._hold_timeout(), self._housekeeper.due_in()]
        if self._logs:
            waits.append(max(0.0, self._next_gone_check - time.monotonic()))
        known = [w for w in waits if w is not None]
        return min(known) if known else None

    def _release_gone(self) -> None:
        """Close deleted files even when no line arrives (a quiet instance's file)."""
        now = time.monotonic()
        if now < self._next_gone_check:
            return
        self._next_gone_check = now + GONE_CHECK_S
        for log in self._logs.values():
            self._released += log.release_if_gone()

    def _hold_timeout(self) -> float | None:
        if not self._held:
            return None
        return max(0.0, min(self._held.values()) - time.monotonic())

    def _finish_batch(self, *, release_all: bool) -> None:
        """Emit tracebacks whose quiet time is over (or all), log drops, write the buffers."""
        self._begin_batch()
        if self._held:
            now = time.monotonic()
            for key, until in list(self._held.items()):
                if release_all or until <= now:
                    del self._held[key]
                    log = self._logs.get(key[0])
                    if log is not None:
                        self._write(log, log.parser(key[1]).flush())
        self._log_drops()
        self._flush_files()

    def _log_drops(self) -> None:
        if not self._drops and not self._severe_drops:
            return
        with self._drop_lock:
            drops, self._drops = self._drops, {}
            severe, self._severe_drops = self._severe_drops, {}
        for counts, level, event in (
            (drops, WARNING, "log queue full: dropped low-severity lines"),
            (severe, ERROR, "log queue over its hard cap: dropped error lines"),
        ):
            for instance, count in counts.items():
                log = self._log(instance)
                if log is None:
                    continue
                fields = {
                    "level": "error" if level == ERROR else "warning",
                    "logger": "gridkeeper.logs",
                    "event": event,
                    "dropped": count,
                }
                self._write(log, [Record(time.time(), level, "sink", "", fields, lines=0)])

    def _flush_files(self) -> None:
        for log in self._logs.values():
            try:
                log.flush(self._batch_now, self._batch_redact)
            except OSError as exc:
                self._write_errors += 1
                self._report(f"writing the logs of {log.instance} failed: {exc}")

    def _report(self, message: str) -> None:
        # Our own log may be the one failing; the original stderr is the last resort.
        stream = sys.__stderr__
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.write(f"gridkeeper.logs: {message}\n")
