"""Models of the settings file's `monitor` and `notifications` sections.

Owned by the monitor: it defines what each key means. `gridkeeper.config.models` embeds these
sections in `Settings`. Every model forbids unknown keys so a typo is an error, not a default.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from gridkeeper.config.base import StrictModel
from gridkeeper.config.monitor_grid import GridAlertRules
from gridkeeper.config.monitor_rule import HeldRule, Level, Rule, fires_at, hold_for


class NetworkTarget(StrictModel):
    """A reachability check: TCP connect to host:port, or HTTP GET of url."""

    name: str = Field(min_length=1, description="Label used in alerts and metrics.")
    kind: Literal["tcp", "http"] = Field("http", description="How to check.")
    url: str | None = Field(None, description="For kind=http: the URL to GET.")
    host: str | None = Field(None, description="For kind=tcp: the host to connect to.")
    port: int | None = Field(None, ge=1, le=65535, description="For kind=tcp: the port.")
    timeout: float = Field(3.0, gt=0, le=60, description="Seconds before one try fails.")
    retries: int = Field(2, ge=0, le=10, description="Failed tries before the target is down.")

    @model_validator(mode="after")
    def _target_complete(self) -> NetworkTarget:
        if self.kind == "http" and not self.url:
            raise ValueError(f"network target {self.name!r}: kind 'http' needs 'url'")
        if self.kind == "tcp" and (not self.host or self.port is None):
            raise ValueError(f"network target {self.name!r}: kind 'tcp' needs 'host' and 'port'")
        return self


class ThresholdRule(HeldRule):
    """A host measurement above a percentage for a duration."""

    threshold: float = Field(90.0, gt=0, le=100, description="Percent above which it holds.")
    for_seconds: float = hold_for(300.0)


class DurationRule(HeldRule):
    """A condition (instance not running, target down, ...) that must hold for a while."""

    level: Level = fires_at("error")


class EventRule(Rule):
    """An alert raised by a keeper event and cleared when the instance runs again."""

    level: Level = fires_at("error")


class AlertRules(GridAlertRules):
    """Which conditions raise alerts, at what level, and how alerts live and repeat.

    The trading rules (grid_paused, grid_drawdown, ..., per-grid `grids`) come from
    `GridAlertRules` (config/monitor_grid.py).
    """

    host_cpu: ThresholdRule = Field(
        default_factory=lambda: ThresholdRule(threshold=90, for_seconds=300, level="warning"),
        description="Host CPU percent above threshold.",
    )
    host_memory: ThresholdRule = Field(
        default_factory=lambda: ThresholdRule(threshold=90, for_seconds=300, level="warning"),
        description="Host memory used percent above threshold.",
    )
    host_disk: ThresholdRule = Field(
        default_factory=lambda: ThresholdRule(threshold=90, for_seconds=60, level="error"),
        description="Used percent of the filesystem holding the home or the log dir.",
    )
    instance_down: DurationRule = Field(
        default_factory=lambda: DurationRule(for_seconds=60, level="error"),
        description="An instance in state backoff, exited or fatal (not stopped on purpose).",
    )
    instance_crashed: EventRule = Field(
        default_factory=lambda: EventRule(level="error"),
        description="The keeper reported a crash; resolves when the instance runs again.",
    )
    instance_restarted: EventRule = Field(
        default_factory=lambda: EventRule(level="info"),
        description="The instance's restart count grew; notified once, no resolved message.",
    )
    instance_fatal: EventRule = Field(
        default_factory=lambda: EventRule(level="critical"),
        description="The keeper gave up restarting the instance.",
    )
    instance_health: EventRule = Field(
        default_factory=lambda: EventRule(level="warning"),
        description="The instance's health probe is failing.",
    )
    instance_memory_limit: EventRule = Field(
        default_factory=lambda: EventRule(level="warning"),
        description="The instance exceeded its memory limit.",
    )
    instance_cpu_limit: EventRule = Field(
        default_factory=lambda: EventRule(level="warning"),
        description="The instance exceeded its CPU limit.",
    )
    network_down: DurationRule = Field(
        default_factory=lambda: DurationRule(for_seconds=0, level="error"),
        description="A network target failed all its tries.",
    )
    keeper_down: DurationRule = Field(
        default_factory=lambda: DurationRule(for_seconds=20, level="critical"),
        description="The keeper's socket does not answer.",
    )
    keeper_store_degraded: DurationRule = Field(
        default_factory=lambda: DurationRule(for_seconds=0, level="error"),
        description="The keeper cannot write its state store (a full disk): it keeps "
        "controlling processes and catches up when space returns.",
    )
    log_lines_lost: DurationRule = Field(
        default_factory=lambda: DurationRule(for_seconds=0, level="error"),
        description="The keeper dropped log lines it could not write (a full log disk); "
        "resolves once a 'lost N lines' record has been written.",
    )
    custom_level: Level = Field(
        "warning", description="Level of a custom alert raised without --level."
    )
    repeat_interval: float = Field(
        14400.0,
        ge=0,
        description="Seconds between reminders while an unacknowledged alert fires; 0 for none.",
    )
    resolve_after: float = Field(
        30.0,
        ge=0,
        description="Seconds a condition must stay clear before its alert resolves.",
    )
    flap_window: float = Field(
        600.0, gt=0, description="Window (seconds) in which repeated firings count as flapping."
    )
    flap_threshold: int = Field(
        3,
        ge=1,
        description=(
            "Firings of one alert within flap_window after which it resolves only once clear for"
            " a whole flap_window; bounds the notifications of a flapping condition."
        ),
    )


class MonitorSettings(StrictModel):
    """What the monitor samples, how long it keeps history, and where it exports metrics."""

    enabled: bool = Field(True, description="Run the monitor as a built-in keeper instance.")
    interval: float = Field(10.0, ge=0.1, le=3600, description="Seconds between samples.")
    network_targets: list[NetworkTarget] = Field(
        default_factory=list, description="Reachability checks run every interval."
    )
    raw_retention_days: float = Field(7, gt=0, description="Days raw samples are kept.")
    rollup_retention_days: float = Field(90, gt=0, description="Days one-minute rollups are kept.")
    max_db_mb: float = Field(
        512, gt=0, description="Size cap of monitor.db; the oldest raw samples go first."
    )
    metrics_port: int = Field(
        9464,
        ge=0,
        le=65535,
        description="Prometheus /metrics port (on metrics_host); 0 turns it off. A port already "
        "in use is logged and the monitor runs on without /metrics.",
    )
    metrics_host: str = Field(
        "127.0.0.1",
        description="Address the /metrics port listens on; a private interface (or 0.0.0.0 in a "
        "container) lets a fleet's Prometheus scrape it. The endpoint has no auth.",
    )
    rules: AlertRules = Field(default_factory=AlertRules, description="Alert rules and policy.")
    restart_keeper: bool = Field(
        True,
        description="Restart a keeper that died (its lock free, its socket left behind) within "
        "about a second, and raise a `keeper_restarted` alert. A keeper shut down on purpose, "
        "or one that is alive but hung, is never restarted.",
    )


class EmailChannel(StrictModel):
    """SMTP notifications (the seed's `email` block)."""

    enabled: bool = Field(False, description="Send alerts by email.")
    smtp_server: str = Field("", description="SMTP host.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    security: Literal["starttls", "ssl", "none"] = Field("starttls", description="Transport.")
    username: str = Field("", description="SMTP login; empty for none.")
    password: SecretStr = Field(SecretStr(""), description="SMTP password (a secret).")
    from_email: str = Field("", description="Sender address; defaults to username.")
    to_emails: list[str] = Field(default_factory=list, description="Recipients.")
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds per SMTP operation.")
    ca_file: str = Field(
        "",
        description="PEM file of the CA(s) that sign the SMTP server's certificate; only these "
        "are trusted. Empty: the system's trust store.",
    )
    min_level: Level = Field("warning", description="Lowest alert level sent here.")

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> EmailChannel:
        if self.enabled:
            if not self.smtp_server:
                raise ValueError("email is enabled but 'smtp_server' is empty")
            if not self.to_emails:
                raise ValueError("email is enabled but 'to_emails' is empty")
            if not (self.from_email or self.username):
                raise ValueError("email is enabled but neither 'from_email' nor 'username' is set")
        return self


class TelegramChannel(StrictModel):
    """Telegram Bot API notifications (the seed's `telegram` block)."""

    enabled: bool = Field(False, description="Send alerts to Telegram.")
    bot_token: SecretStr = Field(SecretStr(""), description="Bot token (a secret).")
    chat_id: str = Field("", description="Chat to send to.")
    api_base: str = Field("https://api.telegram.org", description="Bot API base URL.")
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds per request.")
    min_level: Level = Field("warning", description="Lowest alert level sent here.")
    # Two-way: commands from the chat (docs/monitor.md "Telegram commands"). Off by default:
    # state-changing control from a phone is something an operator turns on knowingly.
    commands: bool = Field(False, description="Answer commands (/status, /pause ...).")
    allowed_chat_ids: list[str] = Field(
        default_factory=list,
        description="Chats whose commands are answered; empty: only 'chat_id'.",
    )
    allowed_user_ids: list[str] = Field(
        default_factory=list,
        description="Telegram users who may command (in a group); empty: anyone in the chat.",
    )
    poll_timeout: int = Field(
        30, ge=1, le=50, description="Seconds one getUpdates long poll waits for an update."
    )
    confirm_ttl: float = Field(
        120.0, ge=10, le=3600, description="Seconds a confirm/cancel button stays valid."
    )

    @field_validator("allowed_chat_ids", "allowed_user_ids", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> Any:
        # Telegram ids are numbers (-100123... for a group): accept them written as JSON numbers.
        if isinstance(value, list):
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return value

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> TelegramChannel:
        if self.enabled and not (self.bot_token.get_secret_value() and self.chat_id):
            raise ValueError("telegram is enabled but 'bot_token' or 'chat_id' is empty")
        if self.commands and not self.bot_token.get_secret_value():
            raise ValueError("telegram commands are on but 'bot_token' is empty")
        if self.commands and not self.command_chats():
            raise ValueError(
                "telegram commands are on but neither 'allowed_chat_ids' nor 'chat_id' is set"
            )
        return self

    def command_chats(self) -> set[str]:
        """The chats whose commands are answered: `allowed_chat_ids`, else `chat_id`."""
        chats = [str(c).strip() for c in self.allowed_chat_ids] or [self.chat_id.strip()]
        return {c for c in chats if c}


class WebhookChannel(StrictModel):
    """JSON POST notifications (the seed's `webhook` block)."""

    enabled: bool = Field(False, description="POST alerts to a URL.")
    url: str = Field("", description="Where alerts are POSTed.")
    secret: SecretStr = Field(
        SecretStr(""), description="HMAC-SHA256 key for the signature header; empty for none."
    )
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds per request.")
    min_level: Level = Field("warning", description="Lowest alert level sent here.")

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> WebhookChannel:
        if self.enabled and not self.url.startswith(("http://", "https://")):
            raise ValueError("webhook is enabled but 'url' is not an http(s) URL")
        return self


# --- alertmanager channel (issue 17) ---------------------------------------------------------
class AlertmanagerChannel(StrictModel):
    """Alerts posted to Prometheus Alertmanager's v2 API (dedup, routing, silences for a fleet)."""

    enabled: bool = Field(False, description="POST alerts to Alertmanager.")
    urls: list[str] = Field(
        default_factory=list,
        description="Alertmanager base URLs (http://host:9093); every one of an HA cluster. A "
        "notification is delivered once at least one accepts it.",
    )
    username: str = Field("", description="HTTP basic auth user; empty for none.")
    password: SecretStr = Field(SecretStr(""), description="HTTP basic auth password (a secret).")
    labels: dict[str, str] = Field(
        default_factory=dict,
        description='Extra labels on every alert (e.g. {"env": "prod"}); ours win on a clash.',
    )
    firing_ttl: float = Field(
        86400.0,
        gt=0,
        description="Seconds a firing alert stays active in Alertmanager without news (endsAt = "
        "send time + this); each reminder renews it. Set above monitor.rules.repeat_interval.",
    )
    generator_url: str = Field(
        "", description="Link shown in Alertmanager for every alert (e.g. your Grafana)."
    )
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds per request.")
    min_level: Level = Field("warning", description="Lowest alert level sent here.")

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> AlertmanagerChannel:
        if self.enabled and (
            not self.urls or not all(u.startswith(("http://", "https://")) for u in self.urls)
        ):
            raise ValueError("alertmanager is enabled but 'urls' is empty or not http(s) URLs")
        return self


class NotificationSettings(StrictModel):
    """Where alerts are sent, and how undelivered ones are retried."""

    email: EmailChannel = Field(default_factory=EmailChannel, description="SMTP channel.")
    telegram: TelegramChannel = Field(
        default_factory=TelegramChannel, description="Telegram channel."
    )
    webhook: WebhookChannel = Field(default_factory=WebhookChannel, description="Webhook channel.")
    alertmanager: AlertmanagerChannel = Field(
        default_factory=AlertmanagerChannel, description="Alertmanager v2 API channel."
    )
    retry_initial: float = Field(
        2.0, gt=0, le=3600, description="Seconds before the first retry of a failed delivery."
    )
    retry_max: float = Field(
        300.0, gt=0, le=86400, description="Longest wait between retries (exponential backoff)."
    )
    max_age_days: float = Field(
        7, gt=0, description="Undelivered notifications older than this are given up (logged)."
    )
