"""stop_loss / take_profit while the grid is paused (bot/limits.py), on the pure strategy.

A pause stops trading, not the risk of what the grid holds: the operator's pause and the
invariant's pause are watched like a boundary pause. A position-mismatch pause is not (the
grid's own position is the figure known to be wrong), nor is a stopped grid.
"""

from __future__ import annotations

from decimal import Decimal as D

from gridkeeper.bot.adopt import adopt_position
from gridkeeper.bot.limits import MISMATCH
from gridkeeper.bot.reconcile import mismatch_reason
from gridkeeper.bot.strategy import GridStrategy, MarketSpec

from .sim import PERP, SPOT, Sim, config


def start(
    market: MarketSpec = PERP, inventory: D = D(0), **over: object
) -> tuple[GridStrategy, Sim]:
    """A grid 90-110 (11 levels, 1 a level) at 101.5; the boundary never fires."""
    over.setdefault("boundary_tolerance", D(1))
    strategy = GridStrategy.fresh("bot-p", config(**over), market, D("101.5"), inventory)
    sim = Sim(strategy)
    sim.run(strategy.plan(sim.now))
    return strategy, sim


def long_3_paused(**over: object) -> tuple[GridStrategy, Sim]:
    """Bought 100, 98 and 96 on the way to 95.5 (about -7.5), then paused by the operator."""
    strategy, sim = start(**over)
    sim.move(D("95.5"))
    st = strategy.state
    assert st.position == 3 and st.status == "running" and -8 < st.total_pnl() < -7
    assert strategy.pause("paused by operator")
    sim.run(strategy.plan(sim.now))
    assert not sim.open  # the operator's pause cancels every order; the position stays
    return strategy, sim


def kinds(strategy: GridStrategy) -> list[str]:
    return [e.kind for e in strategy.drain_events()]


def test_operator_pause_stop_loss_closes_the_position_and_stops() -> None:
    strategy, sim = long_3_paused(stop_loss=D(10))
    st = strategy.state
    assert strategy.limits_watched()
    assert not strategy.decision_due(D(95)) and strategy.decision_due(D(92))
    strategy.drain_events()
    sim.move(D(92))  # about -18: the stop-loss closes at market (reduce-only), then stopped
    sim.run(strategy.plan(sim.now))
    assert st.status == "stopped" and (st.reason or "").startswith("stop_loss: total PnL")
    assert st.position == 0 and not st.closing and not sim.open
    assert not st.orders  # the market close is done and forgotten
    events = strategy.drain_events()
    fired = [e for e in events if e.kind == "boundary_action"]
    assert len(fired) == 1 and fired[0].data["action"] == "emergency_close"
    assert "position_closed" in [e.kind for e in events]
    assert st.realized_profit == st.total_pnl() < -10
    assert not strategy.limits_watched()  # stopped


def test_operator_pause_stop_only_stops_and_keeps_the_position() -> None:
    strategy, sim = long_3_paused(stop_loss=D(10), stop_loss_action="stop_only")
    sim.move(D(92))
    sim.run(strategy.plan(sim.now))
    st = strategy.state
    assert st.status == "stopped" and (st.reason or "").startswith("stop_loss")
    assert st.position == 3 and not st.closing and not sim.open
    assert [e.data["action"] for e in strategy.events if e.kind == "boundary_action"] == [
        "stop_only"
    ]


def test_a_pause_within_the_limits_changes_nothing_and_resumes() -> None:
    strategy, sim = long_3_paused(stop_loss=D(10), take_profit=D(20))
    st = strategy.state
    sim.move(D(96))  # 3 units bought at 100, 98, 96: about -6, inside both limits
    assert st.status == "paused" and st.position == 3 and not sim.open
    assert strategy.resume()
    sim.run(strategy.plan(sim.now))
    assert st.status == "running"
    # laid out again from the position: closes for the 3 held, openings below the price
    closes = [o for o in sim.open.values() if not o.opening]
    assert sum((o.quantity for o in closes), D(0)) == 3
    assert any(o.opening for o in sim.open.values())
    sim.move(D(91))  # running again: the stop-loss watches as before
    sim.run(strategy.plan(sim.now))
    assert st.status == "stopped" and st.position == 0 and not sim.open


def test_resume_after_a_paused_stop_loss_trades_flat_and_stops_again_while_breached() -> None:
    """After the close the grid is flat; a resume re-lays it, and since the realized loss is
    still past stop_loss the next price stops it again (nothing to close: it is flat)."""
    strategy, sim = long_3_paused(stop_loss=D(10))
    sim.move(D(92))
    sim.run(strategy.plan(sim.now))
    st = strategy.state
    assert st.status == "stopped" and st.position == 0
    assert strategy.resume()
    sim.run(strategy.plan(sim.now))
    assert st.status == "running" and all(s.phase == "open" for s in st.slots)
    sim.move(D(92))
    sim.run(strategy.plan(sim.now))
    assert st.status == "stopped" and (st.reason or "").startswith("stop_loss")
    assert st.position == 0 and not sim.open


def test_invariant_pause_take_profit_closes_what_is_left() -> None:
    """An invariant_broken pause keeps its closing orders resting; one of them fills as the
    price rises, and the take-profit then closes the rest and cancels what still rests."""
    strategy, sim = start(take_profit=D(5))
    sim.move(D("97.5"))  # bought 100 and 98: closes rest at 102 and 100
    st = strategy.state
    assert st.position == 2
    refused = next(o for o in sim.open.values() if not o.opening and o.price == D(102))
    sim.open.pop(refused.client_id)
    strategy.on_rejected(refused.client_id, "INVALID_ORDER", "refused", sim.now)
    assert strategy.check_exits(sim.now) == []
    sim.run(strategy.check_exits(sim.now + strategy.exit_watch.grace_ms))
    assert st.status == "paused" and st.keep_exits
    assert (st.reason or "").startswith("invariant_broken")
    assert [(o.side, o.price) for o in sim.open.values()] == [("Ask", D(100))]
    assert strategy.limits_watched() and strategy.decision_due(D(104))
    sim.move(D(104))  # the close at 100 fills (+2), 1 held at 104 (+4): take-profit
    sim.run(strategy.plan(sim.now))
    assert st.status == "stopped" and (st.reason or "").startswith("take_profit: total PnL")
    assert st.position == 0 and not sim.open and not st.keep_exits
    assert st.total_pnl() >= 5


def test_boundary_pause_without_limits_hit_still_resumes_in_range() -> None:
    strategy, sim = start(grid_type="long", stop_loss=D(80), boundary_tolerance=D("0.01"))
    sim.move(D("88.5"))
    st = strategy.state
    assert st.status == "paused" and st.auto_resume and st.position == 6
    sim.move(D("95.5"))  # back in range, loss within the limit: resumes
    assert st.status == "running"


def mismatch_paused(**over: object) -> tuple[GridStrategy, Sim]:
    """Long 3 by the grid's books; the exchange says 1 (a manual sell): paused as the runner's
    position check does."""
    strategy, sim = start(**over)
    sim.move(D("95.5"))
    st = strategy.state
    reason = mismatch_reason(st.position, D(1), D(-2), D("0.01"), False).replace("NAME", "b")
    assert strategy.pause(reason)
    sim.run(strategy.plan(sim.now))
    assert reason.startswith(MISMATCH) and "not watched" in reason
    return strategy, sim


def test_mismatch_pause_does_not_watch_the_limits_on_a_position_it_cannot_trust() -> None:
    strategy, sim = mismatch_paused(stop_loss=D(10), take_profit=D(1))
    st = strategy.state
    assert not strategy.limits_watched()
    assert not any(strategy.decision_due(D(p)) for p in range(70, 130))
    strategy.drain_events()
    for price in (D(80), D(120), D(70)):
        sim.move(price)
        assert st.status == "paused" and (st.reason or "").startswith(MISMATCH)
    assert st.position == 3 and not st.closing
    assert not sim.open and "boundary_action" not in kinds(strategy)
    # The operator adopts the exchange's figure: the grid runs again and the limits watch the
    # adopted position at once (about -24 at 80 with 1 held: past the stop-loss).
    adopt_position(strategy, D(1), D(80))
    assert st.status == "running" and strategy.limits_watched()
    sim.move(D(80))
    sim.run(strategy.plan(sim.now))
    assert st.status == "stopped" and (st.reason or "").startswith("stop_loss")
    assert st.position == 0  # closed the adopted 1, what the exchange holds


def test_a_stopped_grid_is_not_watched() -> None:
    """`stop` (orders left resting) is the operator's decision: no limit acts on it after."""
    strategy, sim = start(stop_loss=D(10))
    sim.move(D("95.5"))
    assert strategy.stop("stopped by operator", keep_orders=True)
    resting = set(sim.open)
    assert resting and not strategy.limits_watched()
    assert not strategy.decision_due(D(80))
    strategy.drain_events()
    sim.run(strategy.on_price(D(85), sim.now))  # no fill in the sim: only the strategy's view
    st = strategy.state
    assert st.status == "stopped" and st.reason == "stopped by operator"
    assert set(sim.open) == resting and st.position == 3 and not st.closing
    assert "boundary_action" not in kinds(strategy)


def test_spot_operator_pause_stop_loss_sells_only_what_the_grid_bought() -> None:
    """Spot total PnL counts the starting inventory (4 here): about -32 at 95.5, -76 at 90."""
    strategy, sim = start(market=SPOT, inventory=D(100), stop_loss=D(50))
    st = strategy.state
    start_position = st.position0
    sim.move(D("95.5"))
    assert st.position == start_position + 3 and st.status == "running"
    assert strategy.pause("paused by operator")
    sim.run(strategy.plan(sim.now))
    sim.move(D(90))
    sim.run(strategy.plan(sim.now))
    assert st.status == "stopped" and (st.reason or "").startswith("stop_loss")
    assert st.position == start_position and not sim.open
