"""A supervised program whose stop the test controls: every SIGTERM is noted as a file
`<dir>/term.<pid>.<n>`, and the program exits only after a SIGTERM once the test has released
it by closing the lifeline FIFO `<dir>/release` (tests.support.Lifeline). With --port it serves
/health: 200, or 500 while `<dir>/sick` exists."""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import FrameType


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    folder: Path = args.dir
    (folder / f"pid.{os.getpid()}").write_text("")
    terms = 0

    def on_term(signum: int, frame: FrameType | None) -> None:
        nonlocal terms
        terms += 1
        (folder / f"term.{os.getpid()}.{terms}").write_text("")

    # Both events wake one select: a SIGTERM through the wakeup pipe, the release as EOF (HUP)
    # on the FIFO, which stays readable for every process once the test has closed it.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGTERM, on_term)
    release = os.open(folder / "release", os.O_RDONLY | os.O_NONBLOCK)
    if args.port:

        class Health(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(500 if (folder / "sick").exists() else 200)
                self.end_headers()

            def log_message(self, *a: object) -> None:
                pass

        server = HTTPServer(("127.0.0.1", args.port), Health)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    released = False
    while True:
        if not released:
            # b"" is EOF: no writer is left (also when the test closed it before we opened it,
            # a case in which the kernel reports no HUP to select); EAGAIN: not released yet.
            with contextlib.suppress(BlockingIOError):
                released = os.read(release, 1) == b""
        if terms and released:
            sys.exit(0)
        # No deadline on purpose: staying up until released is the behaviour under test.
        ready, _, _ = select.select([wake_r] if released else [wake_r, release], [], [])
        if wake_r in ready:
            os.read(wake_r, 512)


if __name__ == "__main__":
    main()
