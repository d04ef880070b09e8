"""Each channel against a real server on 127.0.0.1: SMTP, a Telegram stand-in, a webhook."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from gridkeeper.config.monitor import EmailChannel, TelegramChannel, WebhookChannel
from gridkeeper.monitor.channels.base import DeliveryError
from gridkeeper.monitor.channels.email import EmailSender
from gridkeeper.monitor.channels.telegram import TelegramSender
from gridkeeper.monitor.channels.webhook import WebhookSender

from .servers import HttpReceiver, Request, SmtpReceiver, free_port, valid_signature

pytestmark = pytest.mark.integration

PAYLOAD: dict[str, Any] = {
    "version": 1,
    "kind": "firing",
    "status": "firing",
    "alert_id": 7,
    "rule": "instance_crashed",
    "subject": "bp_sol",
    "level": "error",
    "summary": "instance bp_sol crashed: exit <1> & core",
    "labels": {"instance": "bp_sol"},
    "started_at": "2024-01-01T00:00:00Z",
    "fired_at": "2024-01-01T00:00:00Z",
    "resolved_at": None,
    "host": "box",
}
TOKEN = "123456:SECRET-token"


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    server = HttpReceiver().start()
    yield server
    server.stop()


def test_webhook_posts_signed_json(http: HttpReceiver) -> None:
    """The body is the payload; the HMAC header verifies with the secret; the delivery id is set."""
    sender = WebhookSender(
        WebhookChannel(enabled=True, url=http.url + "/hook", secret=SecretStr("s3cret"))
    )
    sender.send(PAYLOAD, "42")
    sender.close()
    (req,) = http.received()
    assert req.path == "/hook"
    assert req.json() == PAYLOAD
    assert valid_signature(req, "s3cret")
    assert not valid_signature(req, "other")
    assert req.headers["X-Gridkeeper-Delivery"] == "42"


def test_webhook_without_secret_sends_no_signature(http: HttpReceiver) -> None:
    """No secret configured: no signature header."""
    sender = WebhookSender(WebhookChannel(enabled=True, url=http.url))
    sender.send(PAYLOAD, "1")
    sender.close()
    assert "X-Gridkeeper-Signature" not in http.received()[0].headers


def test_webhook_error_status_and_retry_after() -> None:
    """A 503 with Retry-After is a failure carrying that delay."""
    server = HttpReceiver(respond=lambda r: (503, {"Retry-After": "7"}, b"busy")).start()
    sender = WebhookSender(WebhookChannel(enabled=True, url=server.url))
    try:
        with pytest.raises(DeliveryError) as info:
            sender.send(PAYLOAD, "1")
        assert info.value.retry_after == 7.0
    finally:
        sender.close()
        server.stop()


def test_webhook_connection_refused_is_a_delivery_error() -> None:
    """Nothing listening: a DeliveryError, not an escaping httpx exception."""
    sender = WebhookSender(
        WebhookChannel(enabled=True, url=f"http://127.0.0.1:{free_port()}/", timeout=2)
    )
    with pytest.raises(DeliveryError):
        sender.send(PAYLOAD, "1")
    sender.close()


def _telegram(server: HttpReceiver) -> TelegramSender:
    return TelegramSender(
        TelegramChannel(
            enabled=True, bot_token=SecretStr(TOKEN), chat_id="-100", api_base=server.url
        )
    )


def test_telegram_send_message_path_and_html_escaping(http: HttpReceiver) -> None:
    """sendMessage is POSTed to /bot<token>/sendMessage with HTML-escaped text."""
    sender = _telegram(http)
    sender.send(PAYLOAD, "1")
    sender.close()
    (req,) = http.received()
    assert req.path == f"/bot{TOKEN}/sendMessage"
    body = req.json()
    assert body["chat_id"] == "-100" and body["parse_mode"] == "HTML"
    assert "exit &lt;1&gt; &amp; core" in body["text"]
    assert "<b>[gridkeeper] FIRING error instance_crashed bp_sol</b>" in body["text"]


def test_telegram_429_carries_retry_after_and_hides_token() -> None:
    """A 429 answer is a failure with the API's retry_after; the token never appears."""

    def respond(req: Request) -> tuple[int, dict[str, str], bytes]:
        body = b'{"ok": false, "error_code": 429, "description": "Too Many Requests",'
        return 429, {}, body + b' "parameters": {"retry_after": 3}}'

    server = HttpReceiver(respond=respond).start()
    sender = _telegram(server)
    try:
        with pytest.raises(DeliveryError) as info:
            sender.send(PAYLOAD, "1")
        assert info.value.retry_after == 3.0
        assert TOKEN not in str(info.value)
    finally:
        sender.close()
        server.stop()


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, b'{"ok": false, "description": "chat not found"}'), (502, b"<html>bad gateway")],
)
def test_telegram_success_only_when_api_says_ok(status: int, body: bytes) -> None:
    """HTTP 200 with ok=false, or a non-JSON answer, is a failure (the seed reported success)."""
    server = HttpReceiver(respond=lambda r: (status, {}, body)).start()
    sender = _telegram(server)
    try:
        with pytest.raises(DeliveryError):
            sender.send(PAYLOAD, "1")
    finally:
        sender.close()
        server.stop()


def test_telegram_unreachable_hides_token() -> None:
    """A connection error's message does not carry the URL (and so the token)."""
    sender = TelegramSender(
        TelegramChannel(
            enabled=True,
            bot_token=SecretStr(TOKEN),
            chat_id="1",
            api_base=f"http://127.0.0.1:{free_port()}",
            timeout=2,
        )
    )
    with pytest.raises(DeliveryError) as info:
        sender.send(PAYLOAD, "1")
    assert TOKEN not in str(info.value)
    sender.close()


def test_email_reaches_smtp_server() -> None:
    """A plain-SMTP message arrives with the headline as subject and the summary in the body."""
    smtp = SmtpReceiver().start()
    try:
        sender = EmailSender(
            EmailChannel(
                enabled=True,
                smtp_server="127.0.0.1",
                smtp_port=smtp.port,
                security="none",
                from_email="gk@example.com",
                to_emails=["ops@example.com", "oncall@example.com"],
                timeout=5,
            )
        )
        sender.send(PAYLOAD, "9")
        ((rcpts, msg),) = smtp.received()
        assert rcpts == ["ops@example.com", "oncall@example.com"]
        assert msg["Subject"] == "[gridkeeper] FIRING error instance_crashed bp_sol"
        assert msg["X-Gridkeeper-Delivery"] == "9"
        payload = msg.get_payload(decode=True)
        assert isinstance(payload, bytes) and b"exit <1> & core" in payload
    finally:
        smtp.stop()


def test_email_server_down_is_a_delivery_error() -> None:
    """No SMTP server: a DeliveryError within the timeout."""
    sender = EmailSender(
        EmailChannel(
            enabled=True,
            smtp_server="127.0.0.1",
            smtp_port=free_port(),
            security="none",
            from_email="gk@example.com",
            to_emails=["ops@example.com"],
            timeout=2,
        )
    )
    with pytest.raises(DeliveryError):
        sender.send(PAYLOAD, "1")
