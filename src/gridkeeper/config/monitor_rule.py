"""What every alert rule of the settings file's `monitor.rules` shares, for the host and
instance rules (config/monitor.py) and the trading rules (config/monitor_grid.py) alike."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gridkeeper.config.base import StrictModel

Level = Literal["info", "warning", "error", "critical"]


def fires_at(default: Level) -> Any:
    """The `level` field of a rule whose default level is not "warning"."""
    return Field(default, description="Level of the alert.")


def hold_for(default: float) -> Any:
    """The `for_seconds` field of a rule whose default hold is not 0."""
    return Field(
        default, ge=0, description="Seconds the condition must hold before the alert fires."
    )


class Rule(StrictModel):
    """A rule that can be switched off and fires at a level."""

    enabled: bool = Field(True, description="Evaluate this rule.")
    level: Level = fires_at("warning")


class HeldRule(Rule):
    """A rule whose condition must hold for a while before the alert fires."""

    for_seconds: float = hold_for(0.0)
