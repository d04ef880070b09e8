"""Reading log files: where they are, their last lines, and following them across rotation."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Literal

from gridkeeper.logs.retention import current_name

_BLOCK: Final = 64 * 1024


def log_path(
    log_dir: Path, instance: str, kind: Literal["log", "errors", "structured"] = "log"
) -> Path:
    """`<log_dir>/<instance>/<instance>.log`, `..._errors.log` or `..._structured.log`."""
    return log_dir / instance / current_name(instance, kind)


def tail(path: Path, lines: int = 50) -> list[str]:
    """The last `lines` lines of a file (without newlines), read backwards from its end."""
    if lines <= 0:
        return []
    with path.open("rb") as file:
        end = file.seek(0, os.SEEK_END)
        chunks: list[bytes] = []
        newlines = 0
        position = end
        while position > 0 and newlines <= lines:
            step = min(_BLOCK, position)
            position -= step
            file.seek(position)
            chunk = file.read(step)
            chunks.append(chunk)
            newlines += chunk.count(b"\n")
    data = b"".join(reversed(chunks))
    text = data.decode("utf-8", "replace")
    result = text.split("\n")
    if result and result[-1] == "":
        result.pop()
    return result[-lines:]


def follow(
    path: Path,
    *,
    poll_s: float = 0.2,
    stop: threading.Event | None = None,
    from_start: bool = False,
) -> Iterator[str]:
    """Yield lines appended to `path` from now on (or from its start), until `stop` is set.

    Survives rotation: when the file is renamed away or replaced, the rest of the old file is
    read, then the new file from its beginning. A truncated file is read again from its start.
    A missing file is waited for.
    """
    stop = stop or threading.Event()
    file = None
    inode = -1
    partial = b""
    first_open = True
    try:
        while not stop.is_set():
            if file is None:
                try:
                    file = path.open("rb")
                except FileNotFoundError:
                    first_open = False
                    stop.wait(poll_s)
                    continue
                inode = os.fstat(file.fileno()).st_ino
                if first_open and not from_start:
                    file.seek(0, os.SEEK_END)
                first_open = False
            data = file.read()
            if data:
                partial += data
                *complete, partial = partial.split(b"\n")
                for line in complete:
                    yield line.decode("utf-8", "replace")
                continue
            try:
                info = path.stat()
            except FileNotFoundError:
                info = None
            if info is None or info.st_ino != inode:
                # Rotated away: the old file is fully read (read() returned nothing).
                if info is not None:
                    file.close()
                    file = None
                    if partial:
                        yield partial.decode("utf-8", "replace")
                        partial = b""
                    continue
            elif info.st_size < file.tell():
                file.seek(0)
                partial = b""
                continue
            stop.wait(poll_s)
    finally:
        if file is not None:
            file.close()
