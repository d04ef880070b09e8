"""A supervised program whose stop the test controls: every SIGTERM is noted as a file
`<dir>/term.<n>`, and the program exits only once `<dir>/release` exists. With --port it
serves /health: 200, or 500 while `<dir>/sick` exists."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
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

    signal.signal(signal.SIGTERM, on_term)
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
    # A poll, not a sleep for an event: the test's release is a file, which gives no notice of
    # its creation; this script runs alone (no tests.support), so it polls by hand. It has no
    # deadline on purpose: staying up until released is the behaviour under test.
    while not (terms and (folder / "release").exists()):
        time.sleep(0.02)
    sys.exit(0)


if __name__ == "__main__":
    main()
