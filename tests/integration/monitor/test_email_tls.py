"""Email through STARTTLS and implicit TLS with AUTH, verified against a private CA."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import SecretStr

from gridkeeper.config.monitor import EmailChannel
from gridkeeper.monitor.channels.base import DeliveryError
from gridkeeper.monitor.channels.email import EmailSender
from gridkeeper.monitor.outbox import Outbox, RetryPolicy
from gridkeeper.monitor.rules import AlertBook, Observation, Policy, Transition
from gridkeeper.monitor.store import Store

from .servers import SmtpReceiver, wait_for
from .tls import TlsFiles

pytestmark = pytest.mark.integration

USER = "alerts@example.com"
PASSWORD = "correct-horse-battery-9"
PAYLOAD: dict[str, Any] = {
    "kind": "firing",
    "rule": "host_disk",
    "subject": "/",
    "level": "error",
    "summary": "filesystem / is 95% full",
    "alert_id": 3,
    "host": "box",
}
Security = Literal["starttls", "ssl"]


def _config(
    port: int, security: Security, *, ca_file: Path | None, password: str = PASSWORD
) -> EmailChannel:
    return EmailChannel(
        enabled=True,
        smtp_server="127.0.0.1",
        smtp_port=port,
        security=security,
        username=USER,
        password=SecretStr(password),
        to_emails=["ops@example.com"],
        timeout=5,
        ca_file=str(ca_file or ""),
    )


@pytest.fixture(params=["starttls", "ssl"])
def security(request: pytest.FixtureRequest) -> Security:
    mode: Security = request.param
    return mode


@pytest.fixture
def smtp(security: Security, tls_files: TlsFiles) -> Iterator[SmtpReceiver]:
    """A server that takes mail only over TLS (STARTTLS required, or implicit) and after AUTH."""
    ctx = tls_files.server_context()
    if security == "starttls":
        server = SmtpReceiver(starttls=ctx, users={USER: PASSWORD})
    else:
        server = SmtpReceiver(implicit_tls=ctx, users={USER: PASSWORD})
    server.start()
    yield server
    server.stop()


def test_delivers_over_tls_with_auth(
    smtp: SmtpReceiver, security: Security, tls_files: TlsFiles
) -> None:
    """Trusting the private CA, the message arrives after a successful login."""
    sender = EmailSender(_config(smtp.port, security, ca_file=tls_files.ca_cert))
    sender.send(PAYLOAD, "11")
    ((rcpts, msg),) = smtp.received()
    assert rcpts == ["ops@example.com"]
    assert msg["Subject"] == "[gridkeeper] FIRING error host_disk /"
    assert msg["From"] == USER
    assert msg["X-Gridkeeper-Delivery"] == "11"
    assert smtp.logins == [USER]


def test_plain_smtp_is_refused_by_the_starttls_server(tls_files: TlsFiles) -> None:
    """The STARTTLS server really insists on TLS: a plain client gets a clear refusal."""
    server = SmtpReceiver(starttls=tls_files.server_context(), users={USER: PASSWORD}).start()
    try:
        config = EmailChannel(
            enabled=True,
            smtp_server="127.0.0.1",
            smtp_port=server.port,
            security="none",
            from_email=USER,
            to_emails=["ops@example.com"],
            timeout=5,
        )
        with pytest.raises(DeliveryError, match="STARTTLS"):
            EmailSender(config).send(PAYLOAD, "1")
        assert server.received() == []
    finally:
        server.stop()


def test_server_takes_no_mail_without_login(
    smtp: SmtpReceiver, security: Security, tls_files: TlsFiles
) -> None:
    """AUTH is really required, so the delivery test above proves the login happened."""
    config = _config(smtp.port, security, ca_file=tls_files.ca_cert).model_copy(
        update={"username": "", "from_email": USER}
    )
    with pytest.raises(DeliveryError, match="530"):
        EmailSender(config).send(PAYLOAD, "1")
    assert smtp.received() == []


def test_untrusted_certificate_fails_clearly(smtp: SmtpReceiver, security: Security) -> None:
    """Without the CA the certificate is rejected; the error says why and names the fix."""
    sender = EmailSender(_config(smtp.port, security, ca_file=None))
    with pytest.raises(DeliveryError) as info:
        sender.send(PAYLOAD, "1")
    text = str(info.value)
    assert f"127.0.0.1:{smtp.port}" in text
    assert "not trusted" in text and "ca_file" in text
    assert PASSWORD not in text
    assert smtp.received() == [] and smtp.logins == []


def test_wrong_password_fails_without_showing_it(
    smtp: SmtpReceiver, security: Security, tls_files: TlsFiles
) -> None:
    """A refused login names the user and the server's answer, never the password tried."""
    wrong = "wrong-" + PASSWORD
    config = _config(smtp.port, security, ca_file=tls_files.ca_cert, password=wrong)
    with pytest.raises(DeliveryError) as info:
        EmailSender(config).send(PAYLOAD, "1")
    text = str(info.value)
    assert "refused login" in text and USER in text and "535" in text
    assert wrong not in text and PASSWORD not in text
    assert smtp.received() == []


def test_missing_ca_file_is_a_clear_delivery_error(tmp_path: Path) -> None:
    """A ca_file that does not exist fails the attempt with its path, before any connection."""
    missing = tmp_path / "nope.pem"
    sender = EmailSender(_config(1, "ssl", ca_file=missing))
    with pytest.raises(DeliveryError, match=f"cannot load ca_file {missing}"):
        sender.send(PAYLOAD, "1")


def _one_transition() -> Transition:
    book = AlertBook(Policy())
    obs = Observation(rule="custom", subject="disk", active=True, level="error")
    (t,) = [t for t in book.observe(obs, 1000.0) if t.notify]
    t.alert.id = 1
    return t


def test_untrusted_certificate_is_retried_not_lost(
    smtp: SmtpReceiver,
    security: Security,
    tls_files: TlsFiles,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Failures stay queued and are retried; once the CA is configured the mail goes out."""
    store = Store(tmp_path / "monitor.db")
    fast = RetryPolicy(initial=0.05, maximum=0.2)
    untrusted = Outbox(store, [EmailSender(_config(smtp.port, security, ca_file=None))], fast)
    untrusted.enqueue(_one_transition())
    with caplog.at_level(logging.WARNING, logger="gridkeeper.monitor.outbox"):
        untrusted.start()
        try:
            wait_for(lambda: store.outbox_rows()[0]["attempts"] >= 2, what="two failed attempts")
        finally:
            untrusted.stop()
    (row,) = store.outbox_rows()
    assert row["delivered_at"] is None
    assert "not trusted" in row["last_error"]
    assert "not trusted" in caplog.text
    assert PASSWORD not in caplog.text and PASSWORD not in row["last_error"]
    assert smtp.received() == []

    # The operator sets ca_file and restarts the monitor: the same row is delivered.
    fixed = Outbox(
        store, [EmailSender(_config(smtp.port, security, ca_file=tls_files.ca_cert))], fast
    )
    fixed.start()
    try:
        wait_for(lambda: store.outbox_pending_counts() == {}, what="delivery after the fix")
    finally:
        fixed.stop()
    ((_, msg),) = smtp.received()
    assert msg["Subject"] == "[gridkeeper] FIRING error custom disk"
    store.close()
