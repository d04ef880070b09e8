"""Notification channels: email (SMTP), Telegram (Bot API), webhook (signed JSON POST),
Alertmanager (v2 API). `factory.build_channels` builds the enabled ones from the settings."""

from __future__ import annotations

from gridkeeper.monitor.channels.base import Channel, DeliveryError

__all__ = ["Channel", "DeliveryError"]
