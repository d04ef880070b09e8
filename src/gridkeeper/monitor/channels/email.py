"""Email over SMTP: STARTTLS, implicit TLS (`ssl`) or plain (`none`), with a timeout.

smtplib blocks; the outbox runs each channel in its own thread, so a slow server delays only
email. A recipient refused by the server counts as a failure of the whole message (retried).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from gridkeeper.config.monitor import EmailChannel
from gridkeeper.monitor.channels.base import DeliveryError, body_lines, headline


def render(payload: dict[str, Any], sender: str, recipients: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = headline(payload)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="gridkeeper.local")
    msg.set_content("\n".join(body_lines(payload)) + "\n")
    return msg


class EmailSender:
    name = "email"

    def __init__(self, config: EmailChannel) -> None:
        self.config = config
        self.min_level: str = config.min_level

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.security == "ssl":
            return smtplib.SMTP_SSL(
                c.smtp_server, c.smtp_port, timeout=c.timeout, context=ssl.create_default_context()
            )
        smtp = smtplib.SMTP(c.smtp_server, c.smtp_port, timeout=c.timeout)
        if c.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        return smtp

    def send(self, payload: dict[str, Any], delivery_id: int) -> None:
        c = self.config
        sender = c.from_email or c.username
        msg = render(payload, sender, list(c.to_emails))
        msg["X-Gridkeeper-Delivery"] = str(delivery_id)
        try:
            with self._connect() as smtp:
                if c.username:
                    smtp.login(c.username, c.password.get_secret_value())
                refused = smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"email: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise DeliveryError(f"email: recipients refused: {', '.join(sorted(refused))}")

    def close(self) -> None:
        return None
