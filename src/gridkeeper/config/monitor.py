"""Models of the settings file's `monitor` and `notifications` sections.

Owned by the monitor: it defines what each key means. `gridkeeper.config.models` embeds these
sections in `Settings`. Every model forbids unknown keys so a typo is an error, not a default.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

Level = Literal["info", "warning", "error", "critical"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class NetworkTarget(_Section):
    """A reachability check: TCP connect to host:port, or HTTP GET of url."""

    name: str = Field(description="Label used in alerts and metrics.")
    kind: Literal["tcp", "http"] = Field("http", description="How to check.")
    url: str | None = Field(None, description="For kind=http: the URL to GET.")
    host: str | None = Field(None, description="For kind=tcp: the host to connect to.")
    port: int | None = Field(None, ge=1, le=65535, description="For kind=tcp: the port.")
    timeout: float = Field(3.0, gt=0, le=60, description="Seconds before one try fails.")
    retries: int = Field(2, ge=0, le=10, description="Failed tries before the target is down.")


class MonitorSettings(_Section):
    """What the monitor samples, how long it keeps history, and where it exports metrics."""

    enabled: bool = Field(True, description="Run the monitor as a built-in keeper instance.")
    interval: float = Field(10.0, ge=1, le=3600, description="Seconds between samples.")
    network_targets: list[NetworkTarget] = Field(
        default_factory=list, description="Reachability checks run every interval."
    )
    raw_retention_days: float = Field(7, gt=0, description="Days raw samples are kept.")
    rollup_retention_days: float = Field(90, gt=0, description="Days one-minute rollups are kept.")
    metrics_port: int = Field(
        0, ge=0, le=65535, description="Prometheus /metrics port on 127.0.0.1; 0 turns it off."
    )


class EmailChannel(_Section):
    """SMTP notifications (the seed's `email` block)."""

    enabled: bool = False
    smtp_server: str = Field("", description="SMTP host.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    security: Literal["starttls", "ssl", "none"] = Field("starttls", description="Transport.")
    username: str = Field("", description="SMTP login; empty for none.")
    password: SecretStr = Field(SecretStr(""), description="SMTP password (a secret).")
    from_email: str = Field("", description="Sender address; defaults to username.")
    to_emails: list[str] = Field(default_factory=list, description="Recipients.")
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds per SMTP operation.")
    min_level: Level = Field("warning", description="Lowest alert level sent here.")


class TelegramChannel(_Section):
    """Telegram Bot API notifications (the seed's `telegram` block)."""

    enabled: bool = False
    bot_token: SecretStr = Field(SecretStr(""), description="Bot token (a secret).")
    chat_id: str = Field("", description="Chat to send to.")
    api_base: str = Field("https://api.telegram.org", description="Bot API base URL.")
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds per request.")
    min_level: Level = Field("warning", description="Lowest alert level sent here.")


class WebhookChannel(_Section):
    """JSON POST notifications (the seed's `webhook` block)."""

    enabled: bool = False
    url: str = Field("", description="Where alerts are POSTed.")
    secret: SecretStr = Field(
        SecretStr(""), description="HMAC-SHA256 key for the signature header; empty for none."
    )
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds per request.")
    min_level: Level = Field("warning", description="Lowest alert level sent here.")


class NotificationSettings(_Section):
    """Where alerts are sent."""

    email: EmailChannel = Field(default_factory=EmailChannel)
    telegram: TelegramChannel = Field(default_factory=TelegramChannel)
    webhook: WebhookChannel = Field(default_factory=WebhookChannel)
