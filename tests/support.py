"""Helpers every test package shares: waiting for an event with a deadline, a free port, and
a lifeline that keeps idle child processes up until the test ends."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def wait_for(
    check: Callable[[], Any],
    timeout: float = 20.0,
    what: str = "condition",
    *,
    ignore: tuple[type[BaseException], ...] = (),
    interval: float = 0.02,
) -> Any:
    """Poll `check` until it returns something truthy and return that; fail with `what` at the
    deadline. Exceptions listed in `ignore` (a server not up yet) count as "not yet"."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except ignore as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")
        # The poll interval of a deadline wait: `check` gives no notice, so it is asked again.
        time.sleep(interval)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Python source (for `python -c`) that blocks until the stdin pipe reaches EOF: for a child the
# test starts itself with stdin=PIPE, ended by closing that pipe (see `end_child`).
READ_STDIN_TO_EOF = "import sys; sys.stdin.buffer.read()"


def connect_raw(port: int) -> socket.socket:
    """A bare TCP connection to 127.0.0.1:`port` whose reads give up after 0.1 s, for tests of
    how a server treats silent, half-sent and idle clients (poll `closed_by_server`)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.settimeout(0.1)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed the connection (EOF or reset), False while open."""
    try:
        data = sock.recv(4096)
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return data == b""


def end_child(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """End a child that blocks on its stdin pipe: close the pipe (it reads EOF and exits) and
    reap it; kill it only if it failed to end within `timeout`."""
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


class Lifeline:
    """A named pipe this test process holds open for writing and never writes to.

    A child the keeper supervises gets stdin=/dev/null, so it cannot block on a pipe from the
    test; it opens this FIFO by path instead and blocks reading it (no CPU, no timer) until
    EOF: when the test calls `close()`, or when the test process dies, even by SIGKILL, because
    the kernel closes its end. So an idle child needs no bounded sleep to avoid outliving a
    crashed test run.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path, 0o600)
        # O_RDWR never blocks on a FIFO (Linux), unlike O_WRONLY with no reader yet; CLOEXEC so no
        # process the test starts (the keeper) inherits the write end and keeps children up.
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CLOEXEC)

    def close(self) -> None:
        """Every child blocked on the lifeline reads EOF and returns."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def python(self) -> str:
        """Python source (for `python -c`) that blocks until this lifeline is closed. The open is
        non-blocking so that a child started after `close()` reads EOF at once instead of
        waiting in open() for a writer that will never come."""
        return (
            "import os\n"
            f"fd = os.open({str(self.path)!r}, os.O_RDONLY | os.O_NONBLOCK)\n"
            "os.set_blocking(fd, True)\n"
            "while os.read(fd, 1):\n"
            "    pass\n"
        )
