"""The settings file (`config/daemon_config.json`): keeper-wide defaults every instance inherits.

The seed's keys keep their names and meanings; the keys it lacked (restart window, start seconds,
stop timeout, fatal exit codes, health probe) are added with the defaults a real-money operator
wants. An instance's `daemon_config` section has exactly the same keys and overrides these.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from gridkeeper.config.base import StrictModel
from gridkeeper.config.monitor import MonitorSettings, NotificationSettings
from gridkeeper.config.web import WebSettings

RestartPolicy = Literal["always", "on-failure", "never"]


class HealthCheck(StrictModel):
    """How the keeper probes one instance. With no probe set and a `web_port`, an HTTP probe of
    `http://127.0.0.1:<web_port>/health` is used."""

    type: Literal["http", "tcp", "file", "none"] = Field(
        "http",
        description="http: GET url, healthy on 200; tcp: connect to port; "
        "file: a heartbeat file younger than max_age_s; none: no probe.",
    )
    url: str | None = Field(
        None, description="For http: the URL (default http://127.0.0.1:<web_port>/health)."
    )
    host: str = Field("127.0.0.1", description="For tcp: the host to connect to.")
    port: int | None = Field(
        None, ge=1, le=65535, description="For tcp: the port (default web_port)."
    )
    path: str | None = Field(None, description="For file: the heartbeat file (touched by the bot).")
    max_age_s: float = Field(
        60.0, gt=0, description="For file: the oldest heartbeat still healthy."
    )
    timeout_s: float = Field(5.0, gt=0, le=120, description="Seconds before one probe fails.")
    failures: int = Field(
        3, ge=1, le=100, description="Consecutive failed probes that restart the instance."
    )
    start_grace_s: float = Field(
        30.0, ge=0, description="Seconds after start during which failures only delay `running`."
    )

    @field_validator("url")
    @classmethod
    def _plain_http(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith("http://"):
            raise ValueError("the probe speaks plain http:// to a local bot (use type tcp for TLS)")
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 - raises on a port outside 0..65535
        except ValueError as exc:
            raise ValueError(f"bad port in {value!r}") from exc
        if not parts.hostname:
            raise ValueError(f"no host in {value!r}")
        return value


class DaemonDefaults(StrictModel):
    """Supervision settings. In the settings file they are defaults; in an instance file's
    `daemon_config` section they override those defaults for that instance."""

    log_dir: str = Field(
        "logs", description="Where logs go; a relative path is relative to the keeper home."
    )
    auto_restart: RestartPolicy = Field(
        "on-failure",
        description="always | on-failure | never (the seed's true means always, false never).",
    )
    max_restart_attempts: int = Field(
        3, ge=0, le=1000, description="Restarts allowed within restart_window_s before `fatal`."
    )
    restart_window_s: float = Field(
        300.0, gt=0, description="Sliding window (s) in which restarts are counted."
    )
    restart_delay: float = Field(
        5.0, ge=0, le=3600, description="First backoff delay (s); doubles on each crash."
    )
    restart_delay_max: float = Field(300.0, ge=0, le=86400, description="Backoff cap (s).")
    restart_jitter: float = Field(
        0.1, ge=0, le=1, description="Random fraction added to each delay so bots do not align."
    )
    fatal_exit_codes: list[int] = Field(
        default_factory=lambda: [78],
        description="Exit codes that go `fatal` at once (78 = EX_CONFIG: bad config or key).",
    )
    startsecs: float = Field(
        1.0, ge=0, le=600, description="Seconds a process must stay up to count as started."
    )
    stop_timeout: float = Field(
        25.0, gt=0, le=3600, description="Seconds between SIGTERM and SIGKILL of the group."
    )
    health_check_interval: float = Field(
        30.0, ge=1, le=86400, description="Seconds between health probes."
    )
    health_check: HealthCheck | None = Field(
        None, description="The probe; default: HTTP /health on web_port when one is set."
    )
    memory_limit_mb: float | None = Field(
        None, gt=0, description="RSS of the process tree that restarts the instance (unset: none)."
    )
    cpu_limit_percent: float | None = Field(
        None, gt=0, description="CPU% of the process tree that is recorded as an event."
    )
    cpu_limit_action: Literal["event", "restart"] = Field(
        "event", description="What a CPU limit breach does besides the event."
    )
    limit_samples: int = Field(
        3, ge=1, le=100, description="Consecutive samples over a limit before it counts."
    )
    environment: dict[str, str] = Field(
        default_factory=dict,
        description="Extra environment variables for the program (a string is kept as "
        "GRIDKEEPER_ENVIRONMENT, the seed's deployment label).",
    )
    env_file: str | None = Field(
        None,
        description="dotenv file of variables for ${VAR} (keys that must survive reboots; "
        "mode 600). Settings: relative to the settings file; instance: to its working_dir.",
    )
    log_retention_days: float = Field(
        30.0, gt=0, description="Rotated logs older than this are deleted."
    )
    log_cleanup_interval: float = Field(
        3600.0, ge=60, description="Seconds between retention sweeps."
    )

    @field_validator("auto_restart", mode="before")
    @classmethod
    def _seed_bool(cls, value: Any) -> Any:
        if value is True:
            return "always"
        if value is False:
            return "never"
        return value

    @field_validator("environment", mode="before")
    @classmethod
    def _seed_label(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"GRIDKEEPER_ENVIRONMENT": value}
        return value

    @field_validator("fatal_exit_codes")
    @classmethod
    def _codes(cls, value: list[int]) -> list[int]:
        for code in value:
            if not 1 <= code <= 255:
                raise ValueError(f"exit code {code} is outside 1..255")
        return value

    @field_validator("restart_delay_max")
    @classmethod
    def _cap(cls, value: float, info: ValidationInfo) -> float:
        delay = info.data.get("restart_delay")
        if delay is not None and value < delay:
            raise ValueError(f"must be >= restart_delay ({delay:g})")
        return value


class ProgramFields(StrictModel):
    """What to run. `command` wins; else `python_path` + `script_path` + `bot_args`."""

    command: Annotated[list[str], Field(min_length=1)] | None = Field(
        None,
        description='argv of the program; "{python}" is the keeper\'s Python, "{config_dir}" the '
        "directory of the config file.",
    )
    python_path: str | None = Field(
        None, description="Interpreter for script_path (default: the keeper's Python)."
    )
    script_path: str | None = Field(
        None, description="Python script to run (relative paths: to working_dir)."
    )
    bot_args: list[str] = Field(default_factory=list, description="Arguments after script_path.")
    working_dir: str | None = Field(
        None, description="Working directory (default: the project directory holding config/)."
    )
    web_port: int | None = Field(
        None, ge=1, le=65535, description="The bot's control API port on 127.0.0.1."
    )
    depends_on: list[str] = Field(
        default_factory=list,
        description="Instances started first and `running` before this one starts "
        "(e.g. a paper bot on the paper-exchange instance).",
    )


class LoggingSettings(StrictModel):
    """The log pipeline (see docs/logs.md)."""

    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level the keeper itself logs."
    )
    rotate_mb: float = Field(10.0, gt=0, le=10240, description="Size that rotates a log file.")
    backups: int = Field(10, ge=1, le=1000, description="Rotated files kept per log file.")
    compress: bool = Field(True, description="gzip rotated files.")
    rotate_daily: bool = Field(False, description="Also rotate at the UTC day change.")
    max_total_mb: float = Field(
        1024.0, gt=0, description="Cap on the rotated files of one instance."
    )
    queue_size: int = Field(
        100_000, ge=1000, description="Records buffered before low-severity ones are dropped."
    )


class InstanceDaemon(DaemonDefaults, ProgramFields):
    """An instance's effective supervision settings: its overrides over the settings defaults."""


class Settings(DaemonDefaults, ProgramFields):
    """The settings file. With `script_path` or `command` it is also the seed's legacy single
    program, an instance named `daemon_config`."""

    instances_dir: str = Field(
        "active", description="Directory of instance files, relative to this file's directory."
    )
    logging: LoggingSettings = Field(
        default_factory=LoggingSettings, description="Log rotation and retention."
    )
    monitor: MonitorSettings = Field(
        default_factory=MonitorSettings, description="Metrics, checks and alert rules."
    )
    notifications: NotificationSettings = Field(
        default_factory=NotificationSettings, description="Where alerts are sent."
    )
    web: WebSettings = Field(
        default_factory=WebSettings, description="The web dashboard (docs/web.md)."
    )

    @property
    def has_legacy_program(self) -> bool:
        return self.command is not None or self.script_path is not None

    def defaults_dump(self) -> dict[str, Any]:
        """The values an instance inherits (program fields are never inherited)."""
        return self.model_dump(include=set(DaemonDefaults.model_fields), mode="json")
