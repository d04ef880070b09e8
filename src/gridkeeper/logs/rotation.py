"""One log file that rotates by size and, optionally, at the UTC day change.

Rotated files are named `<file>.<YYYYmmdd-HHMMSS-ffffff>` (UTC time of the rotation), and become
`<file>.<stamp>.gz` once compressed. The stamp sorts in time order and is what retention reads.
"""

from __future__ import annotations

import calendar
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_STAMP_FORMAT: Final = "%Y%m%d-%H%M%S"
STAMP_RE: Final = r"\d{8}-\d{6}-\d{6}"
_DAY: Final = 86400
_FILE_MODE: Final = 0o640
# How often a file is checked for having been deleted or replaced behind our back.
_REOPEN_CHECK_S: Final = 1.0


def make_stamp(ts: float) -> str:
    """The rotation stamp for epoch seconds, e.g. `20240501-120000-123456`."""
    second = int(ts)
    micros = round((ts - second) * 1_000_000)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    return f"{time.strftime(_STAMP_FORMAT, time.gmtime(second))}-{micros:06d}"


def parse_stamp(stamp: str) -> float:
    """Epoch seconds of a rotation stamp."""
    day_time, micros = stamp.rsplit("-", 1)
    struct = time.strptime(day_time, _STAMP_FORMAT)
    return float(calendar.timegm(struct)) + int(micros) / 1_000_000


def rotated_name_re(current_name: str) -> re.Pattern[str]:
    """Matches rotated siblings of `current_name`; group `stamp`, group `gz` when compressed."""
    return re.compile(rf"^{re.escape(current_name)}\.(?P<stamp>{STAMP_RE})(?P<gz>\.gz)?$")


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    """When a file rotates."""

    max_bytes: int
    daily: bool = False


class RotatingFile:
    """An append-only file written by one thread, rotated before a write would pass the size.

    Writes are buffered by the caller's batch: `append()` many, then `flush()`. A record is never
    split across two files. `on_rotated` receives each rotated file's path (for compression).
    """

    def __init__(
        self,
        path: Path,
        policy: RotationPolicy,
        on_rotated: Callable[[Path], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._policy = policy
        self._on_rotated = on_rotated
        self._clock = clock
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._last_stamp = ""
        self._fd = -1
        self._ino = -1
        self._size = 0
        self._day = 0
        self._checked_at = 0.0
        self.rotations = 0
        self.lost_lines = 0  # lines a failed write dropped since the last "lost" notice
        self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, _FILE_MODE)
        info = os.fstat(fd)
        self._fd = fd
        self._ino = info.st_ino
        self._size = info.st_size
        # A file left from yesterday rotates at its first write today.
        self._day = int((info.st_mtime if info.st_size else self._clock()) // _DAY)
        self._checked_at = self._clock()

    def fits(self, size: int, now: float) -> bool:
        """Whether `size` more bytes can be appended at `now` without any rotation.

        The writer checks a whole batch of records at once: when it fits, one `append()` of the
        joined batch is the same as appending its records one by one.
        """
        pending = self._size + self._buffered
        return pending + size <= self._policy.max_bytes and (
            not pending or not self._policy.daily or int(now // _DAY) == self._day
        )

    def append(self, data: bytes, now: float) -> None:
        """Queue `data` for this file, rotating first when it would not fit."""
        pending = self._size + self._buffered
        if pending:
            if pending + len(data) > self._policy.max_bytes or (
                self._policy.daily and int(now // _DAY) != self._day
            ):
                self.flush()
                self._rotate(now)
        elif self._policy.daily:
            # An empty file belongs to the day of its first record, not the day it was opened.
            self._day = int(now // _DAY)
        self._buffer.append(data)
        self._buffered += len(data)

    def flush(self) -> None:
        """Write what is buffered, whole or not at all: on a failure (a full disk) whatever part
        of it reached the file is cut off again, so no torn line is left for the next write to
        glue onto. The lines dropped are counted in `lost_lines`. Raises the OSError."""
        if not self._buffer:
            return
        data = b"".join(self._buffer)
        self._buffer.clear()
        self._buffered = 0
        try:
            self._reopen_if_gone()
        except OSError:
            self.lost_lines += data.count(b"\n")
            raise
        start = os.fstat(self._fd).st_size  # not _size: the file may have been replaced
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError:
            self.lost_lines += data.count(b"\n")
            if len(view) != len(data):
                # Cutting a file frees blocks, so this works on a full disk too.
                os.ftruncate(self._fd, start)
            raise
        self._size = start + len(data)

    def _reopen_if_gone(self) -> None:
        if self._fd < 0:
            # An earlier open failed (EMFILE, a full disk): try again rather than give up.
            self._open()
            return
        now = self._clock()
        if now - self._checked_at < _REOPEN_CHECK_S:
            return
        self._checked_at = now
        try:
            same = self.path.stat().st_ino == self._ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(self._fd)
            self._fd = -1
            self._open()

    def release_if_gone(self) -> bool:
        """Close the file when it was deleted (or moved or replaced) behind our back, so its
        space is freed even if no line ever comes again; the next write opens a new one. True
        when it was released. Called by the writer thread between batches (nothing buffered)."""
        if self._fd < 0 or self._buffer:
            return False
        try:
            if os.fstat(self._fd).st_nlink > 0 and self.path.stat().st_ino == self._ino:
                return False
        except FileNotFoundError:
            pass  # the name is gone: ours was moved away, or deleted
        except OSError:
            return False  # cannot tell (EACCES on the directory): keep writing where we were
        os.close(self._fd)
        self._fd = -1
        self._size = 0
        return True

    def _rotate(self, now: float) -> None:
        stamp = make_stamp(now)
        if stamp <= self._last_stamp:
            stamp = make_stamp(parse_stamp(self._last_stamp) + 0.000001)
        target = self.path.with_name(f"{self.path.name}.{stamp}")
        while target.exists() or target.with_name(target.name + ".gz").exists():
            stamp = make_stamp(parse_stamp(stamp) + 0.000001)
            target = self.path.with_name(f"{self.path.name}.{stamp}")
        self._last_stamp = stamp
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        # A failed rename or open leaves `_fd` at -1; the next flush opens the file again.
        self.path.rename(target)
        self._size = 0
        self._day = int(now // _DAY)
        self.rotations += 1
        self._on_rotated(target)
        self._open()

    def close(self) -> None:
        """Write what is buffered and close the file."""
        try:
            self.flush()
        finally:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
