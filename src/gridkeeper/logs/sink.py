"""LogSink: the single writer of every log file of one keeper.

Callers (the keeper's pipe readers, its own logger) only append to a bounded deque; one writer
thread (logs/sink_writer.py) parses, renders, redacts and writes; a housekeeping thread
compresses and deletes. This module is the callers' side: admission to the queue (what a full
queue drops), redactions, per-instance directories and retention, flush, close and counters.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal, TextIO, cast

from gridkeeper.logs.housekeeping import Housekeeper
from gridkeeper.logs.records import ERROR, WARNING, TracebackTracker, looks_severe
from gridkeeper.logs.redact import MIN_SECRET_LEN, Redactor
from gridkeeper.logs.retention import RetentionPolicy
from gridkeeper.logs.sink_config import SinkConfig
from gridkeeper.logs.sink_writer import Item, Marker, SinkWriter
from gridkeeper.logs.streams import SinkStream
from gridkeeper.logs.timefmt import TimestampFormatter
from gridkeeper.logs.writer import InstanceLog

# Past queue_size only severe lines are queued; past this many times queue_size none are, so a
# program printing nothing but "severe" lines cannot grow the queue without bound.
_HARD_CAP_FACTOR: Final = 4
_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,127}$")


class LogSink(SinkWriter):
    """The single writer of every log file; one per keeper. See docs/logs.md."""

    def __init__(self, config: SinkConfig) -> None:
        self._config = config
        self._queue: deque[Item | Marker] = deque()
        self._limit = config.queue_size
        self._hard_limit = config.queue_size * _HARD_CAP_FACTOR
        self._tracebacks = TracebackTracker()
        self._wake = threading.Event()
        self._redactor = Redactor()
        self._known: set[str] = set()
        self._drop_lock = threading.Lock()
        self._drops: dict[str, int] = {}
        self._severe_drops: dict[str, int] = {}
        self._dropped = 0
        self._closing = False
        self._started = False
        self._close_lock = threading.Lock()
        # Owned by the writer thread.
        self._logs: dict[str, InstanceLog] = {}
        self._dirs: dict[str, Path] = {}  # instances whose logs live outside log_dir
        self._held: dict[tuple[str, str], float] = {}
        self._fmt = TimestampFormatter()
        self._dequeued = 0
        self._written = 0
        self._rotations = 0
        self._write_errors = 0
        self._released = 0  # files closed because someone deleted (or replaced) them
        self._next_gone_check = 0.0
        self._batch_now = 0.0
        self._batch_redact: Redactor | None = None
        self._housekeeper = Housekeeper(
            config.log_dir,
            RetentionPolicy(
                max_age_s=config.retention_days * 86400.0,
                max_total_bytes=config.max_total_bytes,
                backups=config.backups,
            ),
            compress=config.compress,
            interval_s=config.cleanup_interval_s,
        )
        self._writer = threading.Thread(
            target=self._run, name="gridkeeper-logs-writer", daemon=True
        )
        self.add_redactions(config.redact)

    # ----------------------------------------------------------------- caller side

    def start(self) -> None:
        """Run retention once, then start the writer and housekeeping threads."""
        if self._started:
            return
        self._config.log_dir.mkdir(parents=True, exist_ok=True)
        self._started = True
        self._housekeeper.start()
        self._writer.start()

    def submit(self, instance: str, stream: Literal["stdout", "stderr"], line: bytes | str) -> None:
        """Queue one line of an instance's output. Thread-safe; never blocks on disk.

        When the queue is full, a line that cannot become an ERROR+ record is dropped and counted.
        """
        if instance not in self._known:
            self._admit(instance)
        queue = self._queue
        # Every stderr line moves the tracker, queued or not, so it knows a traceback's frames.
        in_traceback = stream == "stderr" and self._tracebacks.step(instance, line)
        if self._closing:
            self._drop(instance, severe=False)
            return
        if len(queue) >= self._limit:
            text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
            severe = looks_severe(text.rstrip("\r\n"), stream, in_traceback=in_traceback)
            if not severe or len(queue) >= self._hard_limit:
                self._drop(instance, severe=severe)
                return
        queue.append((instance, stream, line, time.time(), -1, None, ""))
        if not self._wake.is_set():
            self._wake.set()

    def submit_record(
        self,
        instance: str,
        stream: str,
        ts: float,
        level: int,
        logger: str | None,
        event: str,
        fields: dict[str, Any],
    ) -> None:
        """Queue one record of our own logger. `fields` (never holding `ts`, `level`, `logger`
        or `event`) is kept, not copied: the caller must not change it afterwards.

        Like `submit()`, but nothing is parsed: the writer renders the fields as they are.
        """
        queue = self._queue
        if self._closing:
            self._drop(instance, severe=False)
            return
        if len(queue) >= self._limit and (level < ERROR or len(queue) >= self._hard_limit):
            self._drop(instance, severe=level >= ERROR)
            return
        queue.append((instance, stream, fields, ts, level, logger, event))
        if not self._wake.is_set():
            self._wake.set()

    def _drop(self, instance: str, *, severe: bool) -> None:
        with self._drop_lock:
            self._dropped += 1
            drops = self._severe_drops if severe else self._drops
            drops[instance] = drops.get(instance, 0) + 1

    def _admit(self, instance: str) -> None:
        if not _NAME_RE.match(instance) or instance in (".", ".."):
            raise ValueError(f"not a usable instance name for a log directory: {instance!r}")
        self._known.add(instance)

    def stream_for(self, instance: str, stream: str = "stdout") -> TextIO:
        """A file-like object whose written lines go to `submit(instance, stream, ...)`."""
        if stream not in ("stdout", "stderr"):
            raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")
        self._admit(instance)
        kind = cast(Literal["stdout", "stderr"], stream)
        # partial() rather than closures: one call level less for every record.
        return cast(
            TextIO,
            SinkStream(
                partial(self.submit, instance, kind),
                f"<log sink {instance}:{stream}>",
                submit_record=partial(self.submit_record, instance, kind),
                add_redactor=self._add_redactor,
            ),
        )

    def set_instance_dir(self, instance: str, directory: Path) -> None:
        """Write `instance`'s logs to `directory` (the seed's per-instance log_dir) instead of
        `<log_dir>/<instance>`; takes effect when its log is next opened."""
        if directory != self._config.log_dir / instance:
            self._dirs[instance] = directory
        else:
            self._dirs.pop(instance, None)

    def set_instance_retention(
        self, instance: str, retention_days: float, cleanup_interval_s: float | None = None
    ) -> None:
        """`instance`'s rotated logs are kept `retention_days` (the seed's per-instance
        log_retention_days; its log_cleanup_interval makes sweeps at least that frequent).
        Call after set_instance_dir: the policy follows the directory its logs live in."""
        directory = self._dirs.get(instance, self._config.log_dir / instance)
        policy = RetentionPolicy(
            max_age_s=retention_days * 86400.0,
            max_total_bytes=self._config.max_total_bytes,
            backups=self._config.backups,
        )
        self._housekeeper.set_dir_policy(directory, policy, cleanup_interval_s)

    def _add_redactor(self, redactor: Redactor) -> None:
        """Also apply another redactor (a logger's, whose secrets may grow later)."""
        self._redactor.link(redactor)

    def add_redactions(self, values: Iterable[str]) -> int:
        """Mask these values (as ***) in every line written from now on.

        Returns how many are shorter than MIN_SECRET_LEN (6) characters and so are not masked.
        The first time such a value is seen, one WARNING with their count (never the values)
        goes to the keeper's log.
        """
        before = self._redactor.unmasked
        short = self._redactor.add(values)
        added = self._redactor.unmasked - before
        if added:
            self.submit_record(
                "keeper",
                "sink",
                time.time(),
                WARNING,
                "gridkeeper.logs",
                "secrets too short to mask are written as they are",
                {"count": added, "min_length": MIN_SECRET_LEN},
            )
        return short

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is written; False on timeout."""
        if not self._writer.is_alive():
            return not self._queue
        marker = Marker(stop=False)
        self._queue.append(marker)
        self._wake.set()
        return marker.done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, finish compressions, then stop both threads."""
        with self._close_lock:
            if self._closing:
                return
            if not self._started:
                self.start()
            deadline = time.monotonic() + timeout
            marker = Marker(stop=True)
            # Lines submitted from here on would land behind the stop marker: refuse them.
            self._closing = True
            self._queue.append(marker)
            self._wake.set()
            self._writer.join(max(0.0, deadline - time.monotonic()))
            self._housekeeper.stop(max(0.0, deadline - time.monotonic()))

    @property
    def stats(self) -> dict[str, int]:
        """Counters in lines: submitted, written, dropped; rotations; write_errors; queued."""
        queued = len(self._queue)
        return {
            "submitted": self._dequeued + queued + self._dropped,
            "written": self._written,
            "dropped": self._dropped,
            "rotations": self._rotations,
            "write_errors": self._write_errors,
            # Lines a failed write (a full disk) dropped, not yet reported by a "lost N lines"
            # record in their file (per file: one line missing from all three counts 3).
            "lost_lines": sum(log.lost_lines for log in list(self._logs.values())),
            "compressed": self._housekeeper.compressed,
            "deleted": self._housekeeper.deleted,
            "released": self._released,
            "queued": queued,
        }
