"""The trading alert rules of the settings file's `monitor.rules` (issue 13).

Grid bots write a report (gridkeeper.gridreport); these rules say when a report is alarming.
`AlertRules` (config/monitor.py) inherits the fields below, so they sit beside the host and
instance rules: `monitor.rules.grid_paused`, `monitor.rules.grid_drawdown`, ... and
`monitor.rules.grids.<instance>` overrides any of them for one grid.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from gridkeeper.config.base import StrictModel
from gridkeeper.config.monitor_rule import HeldRule, Level, Rule, fires_at, hold_for


class GridStateRule(HeldRule):
    """A grid in a state (paused, stopped, mismatched) for a while."""


class NoFillsRule(Rule):
    """A trading grid without a fill for too long (a range the price has left, dead market)."""

    hours: float = Field(
        6.0, gt=0, description="Hours without a fill, while trading, before the alert fires."
    )


class DrawdownRule(HeldRule):
    """Total PnL below a floor: an absolute loss, or a share of the capital."""

    max_loss: Decimal | None = Field(
        None, gt=0, description="Fires when total PnL <= -max_loss (quote); null: not checked."
    )
    max_loss_percent: Decimal | None = Field(
        Decimal(10),
        gt=0,
        le=100,
        description="Fires when total PnL <= -this % of the capital; null: not checked.",
    )
    capital: Decimal | None = Field(
        None,
        gt=0,
        description="Capital (quote) the percentage applies to; null: the grid's notional as "
        "the bot reports it (every level bought at its size).",
    )
    for_seconds: float = hold_for(60.0)
    level: Level = fires_at("error")


class BalanceRule(HeldRule):
    """The account's available (free) spot balances below a floor."""

    quote_below: Decimal | None = Field(
        None, ge=0, description="Fires when the free quote balance is below this; null: off."
    )
    base_below: Decimal | None = Field(
        None, ge=0, description="Fires when the free base balance is below this; null: off."
    )
    for_seconds: float = hold_for(60.0)


class RejectsRule(Rule):
    """Orders refused by the exchange, `count` within `window_seconds`."""

    count: int = Field(5, ge=1, description="Rejects within the window that fire the alert.")
    window_seconds: float = Field(600.0, gt=0, description="The counting window, in seconds.")


def _paused() -> GridStateRule:
    return GridStateRule(for_seconds=0, level="warning")


def _stopped() -> GridStateRule:
    return GridStateRule(for_seconds=0, level="error")


def _out_of_range() -> GridStateRule:
    return GridStateRule(for_seconds=900, level="warning")


def _mismatch() -> GridStateRule:
    return GridStateRule(for_seconds=0, level="error")


class GridRuleOverrides(StrictModel):
    """Per-grid replacements: only the keys given change, the rest keep the global values."""

    grid_paused: GridStateRule | None = None
    grid_stopped: GridStateRule | None = None
    grid_out_of_range: GridStateRule | None = None
    grid_no_fills: NoFillsRule | None = None
    grid_drawdown: DrawdownRule | None = None
    balance_low: BalanceRule | None = None
    order_rejects: RejectsRule | None = None
    position_mismatch: GridStateRule | None = None


class GridAlertRules(StrictModel):
    """The trading rules, evaluated over each grid bot's report."""

    grid_paused: GridStateRule = Field(
        default_factory=_paused,
        description="A grid paused (boundary, invariant or operator); the alert carries the "
        "reason. A position-mismatch pause is `position_mismatch` instead.",
    )
    grid_stopped: GridStateRule = Field(
        default_factory=_stopped,
        description="A grid stopped (stop_loss, take_profit, boundary or operator), with the "
        "reason.",
    )
    grid_out_of_range: GridStateRule = Field(
        default_factory=_out_of_range,
        description="The last price outside the grid's range for for_seconds (not when stopped).",
    )
    grid_no_fills: NoFillsRule = Field(
        default_factory=NoFillsRule, description="No fill for `hours` while the grid trades."
    )
    grid_drawdown: DrawdownRule = Field(
        default_factory=DrawdownRule,
        description="Total PnL below -max_loss or -max_loss_percent of the capital.",
    )
    balance_low: BalanceRule = Field(
        default_factory=BalanceRule,
        description="Free quote or base balance below a threshold (spot grids; off until a "
        "threshold is set).",
    )
    order_rejects: RejectsRule = Field(
        default_factory=RejectsRule, description="`count` order rejects within window_seconds."
    )
    position_mismatch: GridStateRule = Field(
        default_factory=_mismatch,
        description="The grid paused because its position differs from the exchange's "
        "(fix: `gridkeeper grid adopt NAME`).",
    )
    grid_report_stale_seconds: float = Field(
        120.0,
        gt=0,
        description="A grid report older than this is from a bot that is not running: its "
        "out-of-range, no-fills and rejects rules are not evaluated (instance_down covers it).",
    )
    grids: dict[str, GridRuleOverrides] = Field(
        default_factory=dict,
        description="Per-grid overrides, by instance name: any of the rules above, with only "
        'the keys to change (e.g. {"sol-grid": {"grid_drawdown": {"max_loss": "50"}}}).',
    )

    def for_grid(self, instance: str) -> GridAlertRules:
        """These rules with the instance's overrides applied (key by key)."""
        override = self.grids.get(instance)
        if override is None:
            return self
        update: dict[str, Any] = {}
        for rule, patch in override.model_dump(exclude_unset=True).items():
            if patch is None:
                continue
            update[rule] = getattr(self, rule).model_copy(update=patch)
        return self.model_copy(update=update)
