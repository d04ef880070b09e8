"""The control API's own log lines (uvicorn's `Invalid HTTP request received.`, a handler's
traceback) go through the bot's log pipeline like every other line: with nobody reading the
bot's stderr pipe (a dead keeper) they are dropped, not written blocking. Before, uvicorn wrote
them with its own handler straight to stderr: once the pipe was full, one bad request from any
local process froze the bot's event loop, and its trading with it."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable

import httpx

from tests.integration.bot.conftest import Bot, make_bot, paper, paper_config
from tests.support import wait_for

__all__ = ["make_bot", "paper", "paper_config"]

BAD_REQUESTS = 4000  # one ~40-byte line each: about twice what a 64 KiB pipe holds


def _bad_request(port: int) -> bool:
    """One request uvicorn refuses (and logs); False when the bot did not answer in time."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"NOT HTTP\r\n\r\n")
        try:
            return sock.recv(64).startswith(b"HTTP/1.1 400")
        except TimeoutError:
            return False


def test_bad_requests_with_an_unread_log_pipe_do_not_freeze_the_bot(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot("unread")
    argv = [sys.executable, "-m", "gridkeeper", "bot", "--config", str(bot.config_path)]
    proc = subprocess.Popen(
        [*argv, "--home", str(bot.home)],
        cwd=bot.project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,  # never read: the keeper is gone
    )
    try:
        wait_for(
            lambda: httpx.get(bot.url + "/health", timeout=5).status_code == 200,
            30,
            "bot healthy",
            ignore=(httpx.TransportError,),
        )
        answered = 0
        while answered < BAD_REQUESTS and _bad_request(bot.port):
            answered += 1
        assert answered == BAD_REQUESTS, f"the bot froze after {answered} bad requests"
        assert httpx.get(bot.url + "/health", timeout=5).json()["status"] == "healthy"
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
