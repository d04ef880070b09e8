"""systemd's readiness protocol (sd_notify) with a plain socket: no libsystemd needed.

Under `Type=notify` systemd sets $NOTIFY_SOCKET to a datagram socket (a path, or `@name` for
the abstract namespace); one datagram `READY=1` says the service is up. Without the variable
(not under systemd, or `Type=exec`) every call is a no-op.
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send `message` (e.g. "READY=1", "STOPPING=1") to systemd; False when not under notify."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "/@":
        return False
    target = "\0" + address[1:] if address[0] == "@" else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode(), target)
    except OSError:
        return False  # systemd gone or the socket not ours: readiness is advisory
    return True
