"""Email over SMTP: STARTTLS, implicit TLS (`ssl`) or plain (`none`), with a timeout.

smtplib blocks; the outbox runs each channel in its own thread, so a slow server delays only
email. A recipient refused by the server counts as a failure of the whole message (retried).

TLS always verifies the server's certificate and name: against the system's trust store, or —
with `ca_file` — only against the CAs in that PEM file (a private relay's own CA). A server that
announces no STARTTLS on a `starttls` connection is a failure, never a silent fall back to plain
text. The password never appears in an error: every message is scrubbed of it.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridkeeper.monitor.channels.base import DeliveryError, body_lines, headline

if TYPE_CHECKING:  # the monitor process never imports pydantic (monitor/settings_view.py)
    from gridkeeper.config.monitor import EmailChannel


def render(payload: dict[str, Any], sender: str, recipients: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = headline(payload)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="gridkeeper.local")
    msg.set_content("\n".join(body_lines(payload)) + "\n")
    return msg


def tls_context(ca_file: str) -> ssl.SSLContext:
    """A verifying client context: the system's trust store, or only the CAs in `ca_file`."""
    if not ca_file:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=ca_file)
    except OSError as exc:  # ssl.SSLError (not PEM) is an OSError too
        reason = exc.strerror or str(exc)
        raise DeliveryError(f"email: cannot load ca_file {ca_file}: {reason}") from exc


class EmailSender:
    name = "email"

    def __init__(self, config: EmailChannel) -> None:
        self.config = config
        self.min_level: str = config.min_level
        ca_file = config.ca_file
        self.ca_file = str(Path(ca_file).expanduser()) if ca_file else ""

    @property
    def _where(self) -> str:
        return f"{self.config.smtp_server}:{self.config.smtp_port}"

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.security == "ssl":
            return smtplib.SMTP_SSL(
                c.smtp_server, c.smtp_port, timeout=c.timeout, context=tls_context(self.ca_file)
            )
        context = tls_context(self.ca_file) if c.security == "starttls" else None
        smtp = smtplib.SMTP(c.smtp_server, c.smtp_port, timeout=c.timeout)
        if context is not None:
            try:
                smtp.starttls(context=context)
            except BaseException:
                smtp.close()  # the with-block below never got it: do not leak the socket
                raise
        return smtp

    def send(self, payload: dict[str, Any], delivery_id: str) -> None:
        c = self.config
        sender = c.from_email or c.username
        msg = render(payload, sender, list(c.to_emails))
        msg["X-Gridkeeper-Delivery"] = delivery_id
        try:
            with self._connect() as smtp:
                if c.username:
                    smtp.login(c.username, c.password.get_secret_value())
                refused = smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            # `from None`: the cause may hold whatever the server echoed back.
            raise DeliveryError(self._scrub(self._explain(exc))) from None
        if refused:
            raise DeliveryError(f"email: recipients refused: {', '.join(sorted(refused))}")

    def _explain(self, exc: BaseException) -> str:
        """One line that names the server, what went wrong and, where there is one, the fix."""
        where = self._where
        if isinstance(exc, ssl.SSLCertVerificationError):
            reason = exc.verify_message or str(exc)
            if self.ca_file:
                return (
                    f"email: TLS certificate of {where} not trusted by ca_file {self.ca_file}: "
                    f"{reason}"
                )
            return (
                f"email: TLS certificate of {where} not trusted: {reason}; if the server uses a "
                "private CA, set notifications.email.ca_file to that CA's PEM file"
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return f"email: {where} does not offer STARTTLS; use security 'ssl' or 'none'"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return f"email: {where} refused login as {self.config.username!r}: {_reply(exc)}"
        if isinstance(exc, smtplib.SMTPResponseException):
            return f"email: {where} answered {_reply(exc)}"
        return f"email: {where}: {type(exc).__name__}: {exc}"

    def _scrub(self, text: str) -> str:
        # Servers and libraries sometimes echo what they were sent; the password must not leak.
        secret = self.config.password.get_secret_value()
        return text.replace(secret, "***") if secret else text

    def close(self) -> None:
        return None


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{exc.smtp_code} {text}"
