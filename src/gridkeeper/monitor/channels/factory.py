"""Building the enabled channels from the settings.

Kept apart from `base` so the senders import `base` and this module imports the senders: no
import cycle. Each transport is imported only when it is enabled (smtplib, httpx stay unloaded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridkeeper.monitor.channels.base import Channel

if TYPE_CHECKING:  # the monitor process never imports pydantic (monitor/settings_view.py)
    from gridkeeper.config.monitor import NotificationSettings


def build_channels(settings: NotificationSettings) -> list[Channel]:
    """Every enabled channel."""
    out: list[Channel] = []
    if settings.email.enabled:
        from gridkeeper.monitor.channels.email import EmailSender

        out.append(EmailSender(settings.email))
    if settings.telegram.enabled:
        from gridkeeper.monitor.channels.telegram import TelegramSender

        out.append(TelegramSender(settings.telegram))
    if settings.webhook.enabled:
        from gridkeeper.monitor.channels.webhook import WebhookSender

        out.append(WebhookSender(settings.webhook))
    if settings.alertmanager.enabled:
        from gridkeeper.monitor.channels.alertmanager import AlertmanagerSender

        out.append(AlertmanagerSender(settings.alertmanager))
    return out
