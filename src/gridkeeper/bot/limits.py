"""stop_loss / take_profit: when the grid watches them, and whether total PnL hits one. Pure.

Watched while the grid runs and in every pause that holds the grid's position (the operator's
`pause`, an `invariant_broken` pause, a boundary pause): a pause stops trading, not the risk of
what is held, so a price that runs away during a pause still fires the configured action.

Not watched:
- in a `position_mismatch` pause: the grid's own position (what its PnL and a close's quantity
  are made of) is the figure known to be wrong there. A limit would fire on a PnL the account
  does not have (a close itself is capped by what the exchange holds: `close_size`). The
  operator is alerted (`position_mismatch`, error) and decides: `grid adopt` (the exchange's
  position becomes the grid's, the grid resumes and the limits watch again) or a close by hand.
- once stopped: the operator (or a limit) stopped the grid; `stop` may leave orders resting on
  purpose (`keep_orders`), and a stopped grid never acts by itself.
"""

from __future__ import annotations

from decimal import Decimal

from gridkeeper.bot.params import StrategyConfig
from gridkeeper.bot.state import GridState

MISMATCH = "position_mismatch"  # the reason prefix of a position-mismatch pause
NOT_WATCHED_IN_MISMATCH = "stop_loss / take_profit are not watched until then"


def mismatch_pause(state: GridState) -> bool:
    return state.status == "paused" and (state.reason or "").startswith(MISMATCH)


def watched(state: GridState) -> bool:
    """Whether the grid's state lets stop_loss / take_profit fire (see the module's doc)."""
    if state.status == "running":
        return True
    return state.status == "paused" and not mismatch_pause(state)


def limit_hit(config: StrategyConfig, state: GridState, price: Decimal) -> tuple[str, str] | None:
    """(action, reason) of the stop_loss / take_profit that total PnL at `price` hits."""
    # Perps: the worse of the PnL at the mark (how the exchange values the account) and at
    # the last trade (what a close would get from the book). The mark is smoothed: a fast
    # fall leaves it behind the trades, and a stop-loss watching it alone would wait while
    # the loss a close would realize grows; a take-profit fires only once both show it.
    pnl = state.total_pnl(price)
    if state.mark_price is not None:
        pnl = min(pnl, state.total_pnl(state.mark_price))
    if config.stop_loss is not None and pnl <= -config.stop_loss:
        return config.stop_loss_action, f"stop_loss: total PnL {pnl} <= -{config.stop_loss}"
    if config.take_profit is not None and pnl >= config.take_profit:
        return config.take_profit_action, f"take_profit: total PnL {pnl} >= {config.take_profit}"
    return None


def limit_trigger(action: str) -> str:
    """The trigger for a stop_loss / take_profit action: close flattens, then stops."""
    return "emergency_close" if action == "close" else "stop_only"
