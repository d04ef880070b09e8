"""The monitor's settings without pydantic: read from `python -m gridkeeper.config.monitor_wire`
(a short-lived process; see that module for why) into read-only attribute objects.

The monitor only reads its settings' attributes (`settings.interval`, `rules.host_cpu.threshold`,
`notifications.webhook.secret.get_secret_value()`), so a `Section` built from the validated
models' JSON stands in for the models themselves. The config package stays the one place that
knows what a setting means: every default and check ran in the resolver.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from gridkeeper.errors import ConfigError
from gridkeeper.resolver import ResolverFailed, run_resolver

if TYPE_CHECKING:
    from gridkeeper.config.monitor import MonitorSettings, NotificationSettings

# monitor_wire.SECRET, DICT and DECIMAL (not imported: that module imports pydantic)
_SECRET = "$secret"  # noqa: S105 - a marker key, not a password
_DICT = "$dict"
_DECIMAL = "$decimal"


class Secret:
    """A secret value: masked when printed or logged, revealed by `get_secret_value()` (the
    name pydantic's SecretStr uses, which the channels call)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    def __str__(self) -> str:
        return "**********" if self._value else ""


class Section:
    """One settings section: its fields as read-only attributes."""

    def __init__(self, fields: dict[str, Any]) -> None:
        for key, value in fields.items():
            object.__setattr__(self, key, _convert(value))

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"settings are read-only ({key})")

    def __repr__(self) -> str:
        return f"Section({vars(self)!r})"


def _convert(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_SECRET}:
            return Secret(str(value[_SECRET]))
        if set(value) == {_DECIMAL}:
            return Decimal(str(value[_DECIMAL]))
        if set(value) == {_DICT}:
            return {k: _convert(v) for k, v in value[_DICT].items()}
        return Section(value)
    if isinstance(value, list):
        return [_convert(v) for v in value]
    return value


@dataclass(frozen=True)
class MonitorConfig:
    settings_path: Path | None
    log_dir: str
    monitor: MonitorSettings
    notifications: NotificationSettings
    secrets: list[str]


def parse(doc: dict[str, Any]) -> MonitorConfig:
    """The resolver's answer; ConfigError with its message when it refused the settings."""
    if not doc.get("ok"):
        raise ConfigError(str(doc.get("error") or "cannot read the settings"))
    path = doc.get("settings_path")
    return MonitorConfig(
        settings_path=Path(path) if path else None,
        log_dir=str(doc["log_dir"]),
        # Stand-ins for the models: same attributes, read-only (see the module docstring).
        monitor=cast("MonitorSettings", _convert(doc["monitor"])),
        notifications=cast("NotificationSettings", _convert(doc["notifications"])),
        secrets=[str(s) for s in doc.get("secrets", [])],
    )


def load(settings_path: Path | None) -> MonitorConfig:
    """Resolve the settings in a child process (it inherits our environment, so `${VAR}` in
    the settings resolves as it would here)."""
    args = [] if settings_path is None else ["--settings", str(settings_path)]
    try:
        doc = run_resolver(
            "gridkeeper.config.monitor_wire", args, drop_env=("GRIDKEEPER_INSTANCE",)
        )
    except ResolverFailed as exc:
        raise ConfigError(f"cannot read the settings: {exc}") from None
    return parse(doc)
