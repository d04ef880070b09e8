"""A program on a pseudo-terminal, for tests that type at prompts (the run.py menu, the wizard)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path


class Terminal:
    """A process on a pty: what it printed, and lines typed at it."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, close_fds=True
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 30.0) -> str:
        """Wait (with a deadline) until `text` is printed; returns the screen up to it."""
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} never appeared; screen:\n{self.seen[-3000:]}")
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

    def close(self, wait_s: float = 30.0) -> int:
        """Let the program end within `wait_s` (0: kill it now); returns its exit code."""
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=wait_s) if wait_s > 0 else self.proc.kill()
            except subprocess.TimeoutExpired:
                self.proc.kill()
        code = self.proc.wait(timeout=10)
        os.close(self.master)
        return code
