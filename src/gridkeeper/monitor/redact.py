"""Keep notification credentials (webhook URLs, the Telegram bot token, Alertmanager's password)
out of every log line of the monitor process.

Apart from the loop (service.py): it is about the channels' settings and the log sink, not about
sampling or alerting.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the monitor process never imports pydantic (monitor/settings_view.py)
    from gridkeeper.config.monitor import NotificationSettings


def hide_channel_urls(n: NotificationSettings) -> None:
    """Webhook and Telegram URLs can be credentials: keep them out of every log line."""
    from gridkeeper.logs import add_redactions

    # httpx logs every request's full URL at INFO (the Telegram one holds the bot token).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    secrets = []
    if n.webhook.url:
        secrets.append(n.webhook.url)
    token = n.telegram.bot_token.get_secret_value()
    if token:
        secrets += [f"{n.telegram.api_base.rstrip('/')}/bot{token}", token]
    if n.alertmanager.password.get_secret_value():
        secrets.append(n.alertmanager.password.get_secret_value())
    if secrets:
        add_redactions(secrets)
