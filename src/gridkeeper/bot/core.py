"""The grid's bookkeeping core: planning orders and applying their outcomes. Pure.

`GridStrategy` (strategy.py) adds prices, risk actions and range changes on top of this.
The core is split by responsibility: `actions` (market spec, actions, events, `build_grid`),
`pricing` (book top and price band), `grid_base` (state, events, ids), `inventory` (closes for
position no level holds), `planning` (what to place and cancel), `outcomes` (placed, rejected,
gone, fills). This module joins them and keeps the names other modules import from it.
"""

from __future__ import annotations

from gridkeeper.bot.actions import Action, BotEvent, Cancel, MarketSpec, Place, build_grid
from gridkeeper.bot.outcomes import REJECT_BACKOFF_MAX_MS, REJECT_BACKOFF_MS, OutcomeBook
from gridkeeper.bot.planning import SPOT_FEE_SLACK, GridPlanner

__all__ = [
    "REJECT_BACKOFF_MAX_MS",
    "REJECT_BACKOFF_MS",
    "SPOT_FEE_SLACK",
    "Action",
    "BotEvent",
    "Cancel",
    "GridCore",
    "MarketSpec",
    "Place",
    "build_grid",
]


class GridCore(GridPlanner, OutcomeBook):
    """State, layout and the order bookkeeping shared by every grid."""
