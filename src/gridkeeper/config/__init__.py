"""Config files: pydantic models, loading with `${VAR}` substitution, and checks.

Public API (see docs/config.md and docs/architecture.md); everything raises ConfigError.
"""

from gridkeeper.config.instance import InstanceConfig, InstanceFile, Metadata
from gridkeeper.config.loader import (
    find_settings,
    instances_dir,
    legacy_instance,
    load_active,
    load_instance,
    load_settings,
)
from gridkeeper.config.secret_checks import secret_values, settings_warnings
from gridkeeper.config.settings import DaemonDefaults, HealthCheck, InstanceDaemon, Settings

__all__ = [
    "DaemonDefaults",
    "HealthCheck",
    "InstanceConfig",
    "InstanceDaemon",
    "InstanceFile",
    "Metadata",
    "Settings",
    "find_settings",
    "instances_dir",
    "legacy_instance",
    "load_active",
    "load_instance",
    "load_settings",
    "secret_values",
    "settings_warnings",
]
