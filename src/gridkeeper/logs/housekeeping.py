"""The background thread that gzips rotated files and applies retention, off the writing path."""

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


class Housekeeper:
    """Runs compression jobs as they come and a retention sweep every `interval_s`.

    Both on one thread, so a sweep never deletes a file halfway through compression.
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
        self._jobs: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, name="gridkeeper-logs-housekeeper", daemon=True
        )
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
                        self.rotated(item.path)
        self._thread.start()

    def rotated(self, path: Path) -> None:
        """A file was rotated: compress it (if configured) and trim its directory. Non-blocking."""
        with self._idle:
            self._outstanding += 1
        self._jobs.put(path)

    def set_dir_policy(
        self, directory: Path, policy: RetentionPolicy, interval_s: float | None = None
    ) -> None:
        """Give `directory` its own retention (swept with the others); a shorter `interval_s`
        makes every sweep come that often."""
        self._own = {**self._own, directory: policy}
        if interval_s is not None and interval_s > 0:
            self._interval_s = min(self._interval_s, interval_s)

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
        """Finish the queued jobs (within `timeout`), then end the thread."""
        self._jobs.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        next_sweep = time.monotonic() + self._interval_s
        while True:
            wait = max(0.0, next_sweep - time.monotonic())
            try:
                job = self._jobs.get(timeout=wait)
            except queue.Empty:
                self.sweep()
                next_sweep = time.monotonic() + self._interval_s
                continue
            if job is None:
                return
            try:
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
