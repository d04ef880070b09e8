"""`python run.py --cli` entry 10, driven through a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import Bot, Paper, wait_for

pytestmark = pytest.mark.integration

RUN_PY = Path(__file__).resolve().parents[3] / "run.py"


class Terminal:
    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, close_fds=True
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} never appeared; screen:\n{self.seen[-2000:]}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"{text!r} never appeared; screen:\n{self.seen}")
                self.seen += chunk.decode(errors="replace")
        found, self.seen = self.seen, self.seen[self.seen.index(text) + len(text) :]
        return found

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        os.close(self.master)


def test_menu_entry_10_adjusts_and_refuses_bad_input(
    paper: Paper, make_bot: Callable[..., Bot]
) -> None:
    """Good bounds apply (blank keeps a bound); bad ones are refused and change nothing."""
    bot = make_bot("spot-menu").start()
    wait_for(lambda: bot.get("/api/grid")["open_orders"], what="orders")
    term = Terminal([sys.executable, str(RUN_PY), "--cli", "--home", str(bot.home)], bot.project)
    try:
        term.expect("choose")
        term.send("10")
        term.expect("control address or instance")
        term.send(bot.url)
        term.expect("current range: 90 - 110")
        term.expect("new lower bound (blank keeps 90)")
        term.send("")
        term.expect("new upper bound")
        term.send("abc")
        term.expect("not a number")
        term.send("112")
        term.expect("applied: 90 - 112")
        assert bot.get("/api/grid")["grid_upper_price"] == "112"

        term.expect("choose")
        term.send("10")
        term.expect("control address or instance")
        term.send(bot.url)
        term.expect("new lower bound")
        term.send("120")
        term.expect("new upper bound")
        term.send("115")
        term.expect("nothing was changed")
        grid = bot.get("/api/grid")
        assert (grid["grid_lower_price"], grid["grid_upper_price"]) == ("90", "112")

        term.expect("choose")
        term.send("0")
        term.expect("bye")
        assert term.proc.wait(timeout=10) == 0
    finally:
        term.close()
