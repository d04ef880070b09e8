"""Notification channels: email (SMTP), Telegram (Bot API), webhook (signed JSON POST)."""

from __future__ import annotations

from gridkeeper.monitor.channels.base import Channel, DeliveryError, build_channels

__all__ = ["Channel", "DeliveryError", "build_channels"]
