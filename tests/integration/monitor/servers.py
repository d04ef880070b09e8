"""Real servers on 127.0.0.1 that stand in for the far ends of the channels.

- `HttpReceiver`: a threaded HTTP server recording every request; its answer is a function of
  the request, so one class plays the webhook receiver and the Telegram Bot API. It can be
  stopped and started again on the same port to play an outage.
- `SmtpReceiver`: an aiosmtpd server recording every message, plain or TLS, with or without AUTH.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests import support
from tests.support import free_port


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    support.wait_for(predicate, timeout, what)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Request], tuple[int, dict[str, str], bytes]]


def ok_json(_: Request) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, b'{"ok": true, "result": {}}'


@dataclass
class HttpReceiver:
    respond: Responder = ok_json
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(
                    "POST", self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                status, headers, body = receiver.respond(req)
                with receiver._lock:
                    receiver.requests.append(req)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def received(self) -> list[Request]:
        with self._lock:
            return list(self.requests)


def valid_signature(req: Request, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), req.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(req.headers.get("X-Gridkeeper-Signature", ""), expected)


class _SmtpHandler:
    def __init__(self, sink: SmtpReceiver) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # Checked here as well as by aiosmtpd, because aiosmtpd cannot require AUTH on an
        # implicit-TLS port (it only counts STARTTLS as encryption).
        if self.sink.users and not session.authenticated:
            return "530 5.7.0 Authentication required"
        with self.sink.lock:
            self.sink.messages.append(
                (list(envelope.rcpt_tos), message_from_bytes(envelope.content))
            )
        return "250 OK"


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1, plain, STARTTLS-only (`starttls`) or implicit TLS (`implicit_tls`).

    With `users` (login -> password), AUTH is required and every successful login is recorded.
    """

    def __init__(
        self,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        users: Mapping[str, str] | None = None,
    ) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.logins: list[str] = []
        self.users = dict(users or {})
        self.lock = threading.Lock()
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if self.users:
            kwargs["authenticator"] = self._authenticate
        if starttls is not None:
            kwargs.update(tls_context=starttls, require_starttls=True)
            kwargs.update(auth_required=bool(self.users), auth_require_tls=True)
        elif implicit_tls is not None:
            kwargs.update(ssl_context=implicit_tls, auth_require_tls=False)
        self._controller = Controller(
            _SmtpHandler(self), hostname="127.0.0.1", port=self.port, **kwargs
        )

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        ok = login in self.users and hmac.compare_digest(self.users[login], password)
        if ok:
            with self.lock:
                self.logins.append(login)
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def received(self) -> list[tuple[list[str], Message]]:
        with self.lock:
            return list(self.messages)
