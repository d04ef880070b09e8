"""A text stream whose lines become submissions to a log sink."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import Any

from gridkeeper.logs.redact import Redactor

LineSubmit = Callable[[bytes | str], None]
# (ts, level, logger, event, fields): fields never hold ts, level, logger or event.
RecordSubmit = Callable[[float, int, str | None, str, dict[str, Any]], None]


class SinkStream(io.TextIOBase):
    """File-like object: every complete line written is handed to the sink as one line.

    A partial line waits for its end (or `close()`). Writes from several threads are safe.
    Our own logger skips text altogether: `write_record()` hands the sink the record's fields,
    which the writer thread renders, so the caller never serializes anything.
    """

    def __init__(
        self,
        submit: LineSubmit,
        name: str,
        *,
        submit_record: RecordSubmit,
        add_redactor: Callable[[Redactor], None],
    ) -> None:
        super().__init__()
        self._submit = submit
        self._name = name
        self.write_record = submit_record
        self.add_redactor = add_redactor
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
