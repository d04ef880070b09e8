"""`<home>/monitor.lock`: one monitor per home, or every alert would be sent twice."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from gridkeeper.errors import OperationFailed


class MonitorLock:
    """`<home>/monitor.lock`: one monitor per home, or every alert would be sent twice."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            raise OperationFailed(
                f"a monitor already runs for {self.path.parent} (pid {owner or '?'}); "
                "stop it first, or let the keeper run it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def monitor_running(home: Path) -> bool:
    """True when a monitor holds `<home>/monitor.lock` (it alone sends notifications)."""
    path = home / "monitor.lock"
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
