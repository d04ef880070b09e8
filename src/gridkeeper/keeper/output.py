"""Instance output: the named pipes read without blocking, cut into lines, handed to the sink.

Pure line handling (`safe_cut`) is separate from the reader so it can be tested alone.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal, Protocol

from gridkeeper.keeper import process

MAX_LINE = 64 * 1024  # output without newlines is cut into records of at most this
READ_SIZE = 65536


class Sink(Protocol):
    def submit(
        self, instance: str, stream: Literal["stdout", "stderr"], line: bytes | str
    ) -> None: ...


def safe_cut(data: bytes, cut: int, secrets: Iterable[bytes]) -> int:
    """A cut point at or before `cut` that splits no occurrence of a secret (> 0)."""
    for secret in secrets:
        if len(secret) < 2:
            continue
        start = data.find(secret, max(0, cut - len(secret) + 1), cut + len(secret) - 1)
        if 0 < start < cut:
            cut = start
    return cut


# Called for every complete line: (instance name, stream, line).
OnLine = Callable[[str, process.Stream, bytes], None]


class OutputRouter:
    """Reads each instance's stdout/stderr FIFOs on the event loop; one reader per stream."""

    def __init__(self, run_dir: Path, on_line: OnLine) -> None:
        self.run_dir = run_dir
        self.on_line = on_line
        self.secrets: set[bytes] = set()
        self._readers: dict[tuple[str, process.Stream], int] = {}
        self._partial: dict[tuple[str, process.Stream], bytes] = {}

    def watch(self, name: str) -> None:
        """Open the instance's FIFOs (if not open yet) and read them as data arrives."""
        loop = asyncio.get_running_loop()
        for stream, path in process.fifo_paths(self.run_dir, name).items():
            key = (name, stream)
            if key in self._readers:
                continue
            process.ensure_fifo(path)
            fd = process.open_reader(path)
            self._readers[key] = fd
            loop.add_reader(fd, self._readable, name, stream, fd)

    def _readable(self, name: str, stream: process.Stream, fd: int) -> None:
        key = (name, stream)
        try:
            chunk = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:  # every writer closed: this run's output is complete
            rest = self._partial.pop(key, b"")
            if rest:
                self.on_line(name, stream, rest)
            asyncio.get_running_loop().remove_reader(fd)
            os.close(fd)
            self._readers.pop(key, None)
            return
        data = self._partial.pop(key, b"") + chunk
        *lines, rest = data.split(b"\n")
        for line in lines:
            self.on_line(name, stream, line)
        while len(rest) > MAX_LINE:
            # Output without newlines (a progress bar, a binary dump) is cut into records
            # rather than buffered without bound; never inside a secret, or its two halves
            # would escape redaction.
            cut = safe_cut(rest, MAX_LINE, self.secrets)
            self.on_line(name, stream, rest[:cut])
            rest = rest[cut:]
        if rest:
            self._partial[key] = rest
