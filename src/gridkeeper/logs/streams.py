"""A text stream whose lines become submissions to a log sink."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable


class SinkStream(io.TextIOBase):
    """File-like object: every complete line written is handed to `submit(line)`.

    A partial line waits for its end (or `close()`). Writes from several threads are safe.
    `write_line()` is the fast path for callers that already hold exactly one line.
    """

    def __init__(self, submit: Callable[[bytes | str], None], name: str) -> None:
        super().__init__()
        self._submit = submit
        self._name = name
        self._lock = threading.Lock()
        self._partial = ""

    @property
    def name(self) -> str:
        return self._name

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write_line(self, line: bytes | str) -> None:
        """Submit one line (without or with its trailing newline)."""
        self._submit(line)

    def write(self, s: str, /) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed SinkStream")
        with self._lock:
            data = self._partial + s if self._partial else s
            if "\n" not in data:
                self._partial = data
                return len(s)
            *lines, self._partial = data.split("\n")
            # Submitting under the lock keeps the lines of concurrent writers in order.
            for line in lines:
                self._submit(line)
        return len(s)

    def flush(self) -> None:
        # A partial line stays until its newline: flushing must not cut a line in two.
        return

    def close(self) -> None:
        with self._lock:
            rest, self._partial = self._partial, ""
        if rest:
            self._submit(rest)
        super().close()
