"""`gridkeeper logs --all`: every instance's log, each line prefixed with its name (like
`pm2 logs`). One follower thread per file; the main thread alone prints, so lines never
interleave mid-line."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path

from gridkeeper.logs.reader import follow, tail


def prefixed(name: str, width: int, line: str) -> str:
    return f"{name.ljust(width)} | {line}"


def follow_all(
    paths: dict[str, Path],
    lines: int,
    keep_following: bool,
    echo: Callable[[str], None],
    stop: threading.Event | None = None,
) -> None:
    """Print the last `lines` of each file, then (when following) every new line of any of
    them as it arrives, until `stop` is set or Ctrl-C."""
    width = max(len(n) for n in paths)
    for name, path in paths.items():
        if path.exists():
            for line in tail(path, lines):
                echo(prefixed(name, width, line))
    if not keep_following:
        return
    stop = stop or threading.Event()
    out: queue.Queue[tuple[str, str]] = queue.Queue()

    def pump(name: str, path: Path) -> None:
        # follow() waits for a missing file and survives rotation.
        for line in follow(path, stop=stop):
            out.put((name, line))

    for name, path in paths.items():
        threading.Thread(target=pump, args=(name, path), daemon=True).start()
    try:
        while not stop.is_set():
            try:
                name, line = out.get(timeout=0.2)
            except queue.Empty:
                continue
            echo(prefixed(name, width, line))
    except KeyboardInterrupt:
        return
    finally:
        stop.set()
