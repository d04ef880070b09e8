"""A program the keeper tests supervise. Each mode is a behaviour a real bot can have.

Every process it starts writes its pid to `<pids>/<role>.<pid>` so a test can check that no
process outlives what the keeper promised. A process that stays up blocks on the test's
lifeline (tests.support.Lifeline, a FIFO given as --lifeline) until the keeper signals it or the
test ends.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


def note(pids: Path | None, role: str) -> None:
    if pids is not None:
        (pids / f"{role}.{os.getpid()}").write_text(str(os.getpid()))


def idle(lifeline: Path) -> None:
    """Stay up, using no CPU, until the test closes its lifeline or ends (EOF on the FIFO) or a
    signal ends this process: how the keeper stops it is what the tests watch. The open does not
    block, so a process started after the test's end returns at once."""
    fd = os.open(lifeline, os.O_RDONLY | os.O_NONBLOCK)
    os.set_blocking(fd, True)
    while os.read(fd, 1):
        pass


def helper(pids: Path | None, role: str, ignore_term: bool, lifeline: Path) -> None:
    note(pids, role)
    if ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    idle(lifeline)


def spawn_helper(args: argparse.Namespace, role: str, *, setsid: bool, ignore_term: bool) -> None:
    argv = [sys.executable, __file__, "--mode", "helper", "--role", role]
    argv += ["--lifeline", str(args.lifeline)]
    if args.pids:
        argv += ["--pids", str(args.pids)]
    if ignore_term:
        argv.append("--ignore-term")
    subprocess.Popen(argv, start_new_session=setsid)


class Health(BaseHTTPRequestHandler):
    healthy_file: Path | None = None

    def do_GET(self) -> None:
        sick = self.healthy_file is not None and self.healthy_file.exists()
        self.send_response(500 if sick else 200)
        self.end_headers()
        # Like a grid bot: say who answers, with the start nonce the keeper gave this process.
        me = {"instance": os.environ.get("GRIDKEEPER_INSTANCE")}
        if os.environ.get("GRIDKEEPER_START_NONCE"):
            me["nonce"] = os.environ["GRIDKEEPER_START_NONCE"]
        self.wfile.write(json.dumps(me).encode())

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="sleep")
    parser.add_argument("--role", default="main")
    parser.add_argument("--pids", type=Path)
    parser.add_argument("--after", type=float, default=0.0)
    parser.add_argument("--code", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--sick-file", type=Path)
    parser.add_argument("--mb", type=int, default=0)
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--lines", type=int, default=0)
    parser.add_argument("--marker", type=Path)
    parser.add_argument("--lifeline", type=Path, required=True)
    args = parser.parse_args()
    if args.mode == "helper":
        helper(args.pids, args.role, args.ignore_term, args.lifeline)
        return
    note(args.pids, args.role)
    print(f"started {args.mode} pid={os.getpid()}", flush=True)
    if args.mode in ("helpers", "helpers-crash"):
        spawn_helper(args, "group-helper", setsid=False, ignore_term=False)
        spawn_helper(args, "setsid-helper", setsid=True, ignore_term=False)
    if args.mode == "stubborn":
        spawn_helper(args, "stubborn-grandchild", setsid=False, ignore_term=True)
    if args.mode == "memory":
        hog = bytearray(args.mb * 1024 * 1024)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
    if args.mode == "health":
        Health.healthy_file = args.sick_file
        server = HTTPServer(("127.0.0.1", args.port), Health)
        server.serve_forever()
    if args.mode == "print":
        for i in range(args.lines):
            print(f"line {i}")
        sys.stdout.flush()
    if args.after:
        # Run for a while before crashing or exiting: the lifetime itself is the behaviour under
        # test (a crash inside or past startsecs), there is no event to wait for.
        time.sleep(args.after)
    if args.mode == "crash-once" and args.marker and not args.marker.exists():
        args.marker.touch()  # the next generation finds it and stays up
        print("crashing once", file=sys.stderr, flush=True)
        sys.exit(args.code)
    if args.mode in ("crash", "helpers-crash"):
        print("about to fail", file=sys.stderr, flush=True)
        sys.exit(args.code)
    if args.mode == "exit":
        sys.exit(args.code)
    # Stay up like a healthy bot until the keeper stops it.
    idle(args.lifeline)


if __name__ == "__main__":
    main()
