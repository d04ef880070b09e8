"""The settling shortcuts: proofs that the next cycle of the bot would change nothing.

A backtest plays each price until the bot has settled (simulator.py). Most cycles provably do
nothing, and these proofs let the simulator skip them: `quiet` before a step's first cycle,
`settled` after a cycle (so the confirming one is not run), `after_settle` caching what `quiet`
reads. Apart from the simulator because they are the one place where a wrong answer changes a
result without touching the bot's code: `tests/unit/backtest/test_shortcuts.py` plays the same
paths with and without them (`Simulator(shortcuts=False)` is the reference), and fast.py turns
`quiet` into a band of prices.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from gridkeeper.bot.actions import Action, Place
from gridkeeper.bot.layout import pending_leg

if TYPE_CHECKING:
    from gridkeeper.backtest.simulator import Simulator


def quiet(sim: Simulator, price: Decimal) -> bool:
    """True when a cycle at `price` provably does nothing: no fill to apply, the grid trades,
    no risk limit is reached, and no waiting level would rest at the new book's top."""
    if sim.client.fills or sim.client.expired or sim.always:
        return False
    strategy = sim.strategy
    st, cfg = strategy.state, strategy.config
    if st.status != "running" and not st.auto_resume and not strategy.limits_watched():
        return True  # stopped (or a mismatch pause) with its cancels done: no price changes that
    # The same figure GridStrategy._check_limits tests, running or in any pause it watches.
    pnl = st.total_pnl(price)
    if cfg.stop_loss is not None and pnl <= -cfg.stop_loss:
        return False
    if cfg.take_profit is not None and pnl >= cfg.take_profit:
        return False
    if st.status != "running":
        # A boundary pause resumes back in range; any other pause only watches the limits.
        return not (st.auto_resume and st.lower <= price <= st.upper)
    tol = cfg.boundary_tolerance
    if price > st.upper * (1 + tol) or price < st.lower * (1 - tol):
        return False
    if not sim.idle:
        return True
    bid, ask = sim.book_top(price)
    market = strategy.market
    for side, level, retry_ms in sim.idle:
        if retry_ms > sim.client.now_ms:
            continue
        if retry_ms > sim.last_cycle_ms:
            return False  # a refused level's back-off ended
        if side == "Bid":
            rests = level <= bid if bid is not None else level < price
        else:
            rests = level >= ask if ask is not None else level > price
        if not rests:
            continue
        if market.band_min is not None and level < price * market.band_min:
            continue
        if market.band_max is not None and level > price * market.band_max:
            continue
        return False
    return True


def settled(sim: Simulator, actions: list[Action], events: int) -> bool:
    """True when the next cycle at the same price provably does nothing, so the settling
    loop may stop after this one (it would only confirm). Holds when this cycle's actions
    were placements that now rest exactly as planned (a close at its level, for its whole
    leg), it read no new fill and reconciled nothing, no invariant or notable event fired,
    and the grid runs without `max_position`: the next plan then sees its own output, and
    each of its steps (netting, inventory cover, cancels, placements) either finds nothing
    new or is monotone in the orders just added (they can only block more)."""
    client, strategy = sim.client, sim.strategy
    st = strategy.state
    if client.fills or client.expired or sim.reconciled or len(sim.events) != events:
        return False
    if st.status != "running" or st.closing or strategy.config.max_position is not None:
        return False
    if sim.executor.deferred or strategy.exit_watch.since_ms is not None:
        return False
    qty = strategy.grid.quantity
    for action in actions:
        if not isinstance(action, Place):
            return False
        order = st.orders.get(action.order.client_id)
        if order is None or order.status != "live" or order.filled:
            return False
        slot = next((s for s in st.slots if s.order == order.client_id), None)
        if slot is None:
            return False
        side, level, opening = pending_leg(slot)
        if opening != order.opening or side != order.side or order.price != level:
            return False
        if order.quantity != slot.size(qty) - slot.leg_filled:
            return False
    return True


def after_settle(sim: Simulator, t: int) -> None:
    """Cache what `quiet` needs: the levels that wait, and states that need every step."""
    sim.last_cycle_ms = t
    strategy = sim.strategy
    st = strategy.state
    sim.always = (
        st.closing
        or strategy.exit_watch.since_ms is not None
        or bool(sim.executor.deferred)
        or any(o.status != "live" for o in st.orders.values())
    )
    idle: list[tuple[str, Decimal, int]] = []
    for slot in st.slots:
        if slot.order is None:
            side, level, _ = pending_leg(slot)
            idle.append((side, level, slot.retry_after_ms))
        else:
            order = st.orders.get(slot.order)
            if order is not None and not order.opening and order.price is not None:
                side, level, _ = pending_leg(slot)
                # A close resting short of its level (a band clamp) may return to it on a
                # price move: such a grid is planned on every step.
                if (order.price < level) if side == "Ask" else (order.price > level):
                    sim.always = True
    sim.idle = idle
