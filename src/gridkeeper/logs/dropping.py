"""A log stream that never blocks its program (issue 11: a dead keeper stalls chatty bots).

A supervised program's stderr is a pipe the keeper reads. With the keeper gone, the pipe fills
(64 KiB) and a plain write blocks the program: a bot stops trading because nobody reads its log.
This stream writes only what the pipe can take now (poll with a zero timeout; a pipe that polls
writable takes a PIPE_BUF write whole), keeps up to `max_pending` bytes waiting, and drops whole
lines beyond that, counting them. When the pipe drains, the next write first puts out one
`log_lines_dropped` ERROR record with the count. Lines are never torn: a line is kept or
dropped whole.
"""

from __future__ import annotations

import os
import select
import stat
import threading
import time

import orjson

PIPE_BUF = select.PIPE_BUF
MAX_PENDING = 1 << 20


class DroppingStream:
    """A text stream over `fd` (write/flush/isatty) that drops lines instead of blocking."""

    def __init__(self, fd: int, max_pending: int = MAX_PENDING) -> None:
        self.fd = fd
        self.max_pending = max_pending
        self.dropped = 0  # lines dropped since the last notice
        self.dropped_total = 0
        self._pending = bytearray()
        self._lock = threading.Lock()
        self._poll = select.poll()
        self._poll.register(fd, select.POLLOUT)

    @staticmethod
    def wanted(fd: int) -> bool:
        """True when `fd` is a pipe or FIFO (what the keeper gives): only there can a reader
        that went away block us; a file or a terminal is written as usual."""
        try:
            return stat.S_ISFIFO(os.fstat(fd).st_mode)
        except OSError:
            return False

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        data = text.encode("utf-8", "replace")
        with self._lock:
            self._drain()
            if len(self._pending) + len(data) > self.max_pending:
                lines = max(1, data.count(b"\n"))
                self.dropped += lines
                self.dropped_total += lines
                return len(text)
            self._pending += data
            self._drain()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._drain()

    def drain(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for the reader to take everything waiting (at exit, so the
        last lines and the drop notice get out if anyone reads). True when nothing is left."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                self._drain()
                left = deadline - time.monotonic()
                if not self._pending or left <= 0:
                    return not self._pending
                self._poll.poll(max(1, int(left * 1000)))

    def _notice(self) -> bytes:
        record = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "level": "error",
            "logger": "gridkeeper.logs",
            "event": "log_lines_dropped",
            "message": f"nobody read this log (keeper gone?): dropped {self.dropped} lines",
            "dropped": self.dropped,
        }
        self.dropped = 0
        return orjson.dumps(record) + b"\n"

    def _drain(self) -> None:
        """Write what the pipe takes without waiting."""
        while self._pending or self.dropped:
            if not self._pending:
                # everything waiting got out: say what did not, before any newer line
                self._pending += self._notice()
            try:
                if not self._poll.poll(0):
                    return
                written = os.write(self.fd, self._pending[:PIPE_BUF])
            except BlockingIOError:
                return
            except OSError:
                # A pipe with no reader at all (EPIPE): what is waiting cannot be delivered.
                self.dropped += max(1, self._pending.count(b"\n"))
                self._pending.clear()
                return
            del self._pending[:written]
