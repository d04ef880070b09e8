"""Helpers every test package shares: waiting for an event with a deadline, a free port."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
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
        time.sleep(interval)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
