"""Gzipping rotated files and applying retention, off the writing path.

The work runs on a thread that exists only while there is some: it starts when a file is rotated
or a sweep falls due, and ends when the queue is empty. An idle keeper therefore holds no
housekeeping thread at all (the keeper's thread budget: benchmarks/keeper.py). Sweeps fall due on
the clock, checked by `tick()`, which the log writer calls whenever it wakes anyway.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import queue
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from gridkeeper.logs import retention
from gridkeeper.logs.retention import RetentionPolicy

_CHUNK: Final = 1 << 20
# zlib level 6 is gzip's default: within a few percent of level 9's size at about 3x the speed.
_LEVEL: Final = 6


def compress_file(path: Path) -> Path | None:
    """gzip `path` to `path.gz` (through a `.gz.tmp` file), keep its mtime, delete the original.

    Returns the new path, or None when the file vanished first (retention got there).
    """
    target = path.with_name(path.name + ".gz")
    partial = path.with_name(path.name + ".gz.tmp")
    try:
        src = path.open("rb")
    except FileNotFoundError:
        return None
    try:
        with src, gzip.open(partial, "wb", compresslevel=_LEVEL) as dst:
            shutil.copyfileobj(src, dst, _CHUNK)
        info = path.stat()
        os.utime(partial, (info.st_atime, info.st_mtime))
        partial.replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return target


_SWEEP: Final = Path("\0sweep")  # a queued periodic sweep (no real path holds a NUL)


class Housekeeper:
    """Runs compression jobs as they come and a retention sweep every `interval_s`.

    Both on one worker thread at a time, so a sweep never deletes a file halfway through
    compression.
    """

    def __init__(
        self,
        log_dir: Path,
        policy: RetentionPolicy,
        *,
        compress: bool,
        interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._log_dir = log_dir
        self._policy = policy
        # Directories with a policy of their own (an instance's log_retention_days, its own
        # log_dir outside log_dir); read by this thread, replaced whole by set_dir_policy.
        self._own: dict[Path, RetentionPolicy] = {}
        self._compress = compress
        self._interval_s = interval_s
        self._clock = clock
        self._jobs: queue.SimpleQueue[Path] = queue.SimpleQueue()
        # The worker, while one runs; started and retired under the lock, so a job queued as it
        # retires is never left without one.
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._running = False  # between start() and stop()
        self._next_sweep = 0.0
        self._idle = threading.Condition()
        self._outstanding = 0
        self.compressed = 0
        self.deleted = 0
        self.errors = 0

    def start(self) -> None:
        """Sweep once now, queue leftovers of an interrupted run for compression, then start."""
        self.sweep()
        if self._compress:
            for directory in retention.instance_dirs(self._log_dir):
                for item in retention.scan(directory).rotated:
                    if not item.compressed:
                        self._queue(item.path)
        self._next_sweep = time.monotonic() + self._interval_s
        with self._lock:
            self._running = True
        self._ensure_worker()

    def rotated(self, path: Path) -> None:
        """A file was rotated: compress it (if configured) and trim its directory. Non-blocking."""
        self._queue(path)
        self._ensure_worker()

    def due_in(self) -> float | None:
        """Seconds until the next periodic sweep (None before start and after stop)."""
        if not self._running:
            return None
        return max(0.0, self._next_sweep - time.monotonic())

    def tick(self) -> None:
        """Queue the periodic sweep when it is due. Cheap: call it on every wake-up."""
        if not self._running or time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + self._interval_s
        self._queue(_SWEEP)
        self._ensure_worker()

    def _queue(self, job: Path) -> None:
        with self._idle:
            self._outstanding += 1
        self._jobs.put(job)

    def _ensure_worker(self) -> None:
        with self._lock:
            if not self._running or self._worker is not None:
                return
            self._worker = threading.Thread(
                target=self._run, name="gridkeeper-logs-housekeeper", daemon=True
            )
            self._worker.start()

    def set_dir_policy(
        self, directory: Path, policy: RetentionPolicy, interval_s: float | None = None
    ) -> None:
        """Give `directory` its own retention (swept with the others); a shorter `interval_s`
        makes every sweep come that often."""
        self._own = {**self._own, directory: policy}
        if interval_s is not None and interval_s > 0 and interval_s < self._interval_s:
            self._interval_s = interval_s
            self._next_sweep = min(self._next_sweep, time.monotonic() + interval_s)

    def sweep(self) -> None:
        """Apply retention to every instance directory now, each with its own policy."""
        own, now = self._own, self._clock()
        try:
            self.deleted += len(retention.sweep(self._log_dir, self._policy, now, skip=set(own)))
            for directory, policy in own.items():
                if directory.is_dir():
                    self.deleted += len(retention.sweep_dir(directory, policy, now))
        except OSError as exc:
            self._report(f"retention sweep failed: {exc}")

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued job is done."""
        with self._idle:
            return self._idle.wait_for(lambda: self._outstanding == 0, timeout)

    def stop(self, timeout: float) -> None:
        """Finish the queued jobs (within `timeout`); start no worker after."""
        with self._lock:
            self._running = False
            worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    self._worker = None  # retire: the next job starts a new worker
                    return
            try:
                if job is _SWEEP:
                    self.sweep()
                else:
                    self._handle(job)
            finally:
                with self._idle:
                    self._outstanding -= 1
                    self._idle.notify_all()

    def _handle(self, path: Path) -> None:
        try:
            if self._compress and compress_file(path) is not None:
                self.compressed += 1
            found = retention.scan(path.parent)
            policy = self._own.get(path.parent, self._policy)
            for item in retention.plan(found.rotated, policy, self._clock()):
                with contextlib.suppress(FileNotFoundError):
                    item.path.unlink()
                    self.deleted += 1
        except OSError as exc:
            self._report(f"compressing {path} failed: {exc}")

    def _report(self, message: str) -> None:
        # The keeper's own log goes through the sink this thread serves; writing there from
        # here could recurse on a full disk, so the message goes to the original stderr.
        self.errors += 1
        stream = sys.__stderr__
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.write(f"gridkeeper.logs: {message}\n")
