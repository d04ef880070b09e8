"""Another server on an instance's port (issue 11, fault 5): the keeper's HTTP probe checks
that the answer names this instance and carries the nonce the keeper gave this start, so an
impostor never makes an instance `running/healthy`; a bot whose port is taken fails fast,
naming the port and its holder, and the keeper says so."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gridkeeper.keeper.health import Identity, identity_problem
from tests.chaos.conftest import Project
from tests.integration.bot.conftest import Bot, make_bot, paper, paper_config, wait_for
from tests.support import free_port

__all__ = ["make_bot", "paper", "paper_config"]


def impostor(answer: dict[str, object]) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def other_bot() -> Iterator[int]:
    yield from impostor({"status": "healthy", "instance": "other-bot", "nonce": "n1"})


@pytest.fixture
def stale_start() -> Iterator[int]:
    yield from impostor({"status": "healthy", "instance": "probed", "nonce": "stale"})


def test_identity_rules() -> None:
    me = Identity("bot-a", "n1", required=True)
    assert identity_problem({"instance": "bot-a", "nonce": "n1"}, me) is None
    assert "other" in str(identity_problem({"instance": "other", "nonce": "n1"}, me))
    assert "another start" in str(identity_problem({"instance": "bot-a", "nonce": "n2"}, me))
    assert identity_problem({"status": "ok"}, me) is not None  # a bot must say who it is
    assert identity_problem(None, me) is not None
    # A program that is not a grid bot may answer anything, unless it names someone else.
    loose = Identity("web", "n1")
    assert identity_problem({"status": "ok"}, loose) is None
    assert identity_problem(None, loose) is None
    assert identity_problem({"instance": "other"}, loose) is not None


def start_probed(project: Project, port: int) -> str:
    project.settings(max_restart_attempts=0)
    project.instance(
        "probed",
        "sleep",
        health_check={
            "type": "http",
            "url": f"http://127.0.0.1:{port}/health",
            "start_grace_s": 1.5,
            "timeout_s": 0.5,
        },
    )
    proc = project.gk("start", "-d")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert project.one("probed")["state"] == "fatal"
    log = project.gk("logs", "keeper", "-n", "200").stdout
    return proc.stdout + proc.stderr + json.dumps(project.one("probed")) + log


def test_another_instances_answer_fails_the_probe(project: Project, other_bot: int) -> None:
    said = start_probed(project, other_bot)
    assert "from instance 'other-bot', not 'probed'" in said


def test_an_answer_from_another_start_fails_the_probe(project: Project, stale_start: int) -> None:
    said = start_probed(project, stale_start)
    assert "another start of 'probed'" in said


def test_the_own_answer_with_the_keepers_nonce_passes(project: Project) -> None:
    port = free_port()
    project.instance(
        "echo", "health", "--port", str(port), web_port=port, health_check={"type": "http"}
    )
    proc = project.gk("start", "-d")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert project.one("echo")["health"] == "healthy"


def test_a_bot_whose_port_is_taken_fails_fast_naming_port_and_holder(
    make_bot: Callable[..., Bot], monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = make_bot("squatted")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", bot.port))
        holder.listen(1)
        bot.start(wait=False)
        assert bot.proc is not None
        assert bot.proc.wait(timeout=60) == 78
    out = bot.output()
    assert f"web_port {bot.port} on 127.0.0.1 is already in use by pid {os.getpid()}" in out
    assert "Traceback" not in out


def test_a_bot_echoes_the_keepers_nonce_on_health(
    make_bot: Callable[..., Bot], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDKEEPER_START_NONCE", "c0ffee")
    bot = make_bot("echo-bot").start()
    health = wait_for(lambda: bot.get("/health"), what="health")
    assert health["instance"] == "echo-bot" and health["nonce"] == "c0ffee"
