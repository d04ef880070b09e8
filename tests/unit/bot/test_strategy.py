"""GridStrategy: layout, pairing of fills, profit booking, the max-position gate, risk actions."""

from __future__ import annotations

import copy
from decimal import Decimal as D

import pytest

from gridkeeper.bot.grid import GridError
from gridkeeper.bot.state import state_from_dict, state_to_dict
from gridkeeper.bot.strategy import GridStrategy

from .sim import PERP, SPOT, Sim, config


def start(market=SPOT, price=D("101.5"), inventory=D(100), **over):  # type: ignore[no-untyped-def]
    strategy = GridStrategy.fresh("bot-a", config(**over), market, price, inventory)
    sim = Sim(strategy)
    sim.run(strategy.plan(sim.now))
    return strategy, sim


def book(sim: Sim) -> list[tuple[str, D]]:
    return sorted((o.side, o.price or D(0)) for o in sim.open.values())


def test_spot_grid_buys_below_and_sells_above() -> None:
    """10 slots at 101.5: buys 90..100 below, sells 104..110 above, one hole at 102."""
    _, sim = start()
    assert book(sim) == sorted(
        [("Bid", D(p)) for p in range(90, 101, 2)] + [("Ask", D(p)) for p in range(104, 111, 2)]
    )


def test_filled_buy_places_sell_one_level_up_and_sell_places_buy_down() -> None:
    """Pairing: buy at 100 fills -> sell at 102; that sell fills -> buy at 100 again."""
    strategy, sim = start()
    sim.move(D("99.5"))
    assert ("Ask", D(102)) in book(sim) and ("Bid", D(100)) not in book(sim)
    # the old sell at 102 of the slot above is still there, plus the new one -> no: one per slot
    assert sum(1 for s, p in book(sim) if (s, p) == ("Ask", D(102))) == 1
    sim.move(D("102.5"))
    assert ("Bid", D(100)) in book(sim)
    assert strategy.state.realized_profit > 0


def test_profit_is_booked_only_when_closing_leg_fills_and_net_of_fees() -> None:
    """A round trip 100 -> 102 of 1 unit books 2 minus both fees; an opening fill books nothing."""
    strategy, sim = start(market=PERP, inventory=D(0))
    sim.move(D("99.5"))
    assert strategy.state.realized_profit == 0
    before = strategy.state.realized_profit
    # drive only the slot 100->102: move up to 102 exactly
    sim.move(D("102"))
    fees = (D(100) + D(102)) * D("0.0002")
    profits = [e for e in strategy.drain_events() if e.kind == "profit"]
    assert profits, "closing fill must book profit"
    booked = [D(e.data["profit"]) for e in profits if e.data["slot"] == 5]
    assert booked == [D(2) - fees]
    assert strategy.state.realized_profit > before
    total = strategy.state.total_pnl(D(102))
    assert strategy.state.unrealized_pnl(D(102)) == total - strategy.state.realized_profit


def test_every_slot_has_at_most_one_order_through_a_random_walk() -> None:
    """A seeded walk across the range never gives a slot two orders nor sends an id twice."""
    import random

    strategy, sim = start(market=PERP, inventory=D(0))
    rng = random.Random(7)
    price = D("100.5")
    for _ in range(400):
        price = max(D(91), min(D(109), price + D(rng.choice([-150, -70, 60, 140])) / 100))
        sim.move(price)
        owners = [o.slot for o in sim.open.values()]
        assert len(owners) == len(set(owners))
    assert len(sim.sent) == len(set(sim.sent))
    assert strategy.state.realized_profit > 0
    # the grid's position equals the fills' net
    net = sum((f.quantity if f.side == "Bid" else -f.quantity) for f in sim.fills)
    assert strategy.state.position == net


def test_perp_neutral_opens_both_ways_and_closes_reduce_only() -> None:
    """Perp neutral: opening orders plain, the leg after an opening fill reduce-only."""
    strategy, sim = start(market=PERP, inventory=D(0))
    assert all(not o.reduce_only for o in sim.open.values())
    sim.move(D("104.1"))  # short opened at 104 -> buy-to-close at 102
    closes = [o for o in sim.open.values() if o.reduce_only]
    assert [(o.side, o.price) for o in closes] == [("Bid", D(102))]
    assert strategy.state.position == D(-1)


def test_perp_long_grid_never_opens_short() -> None:
    """Long grid with no position: only buys rest; after a buy fills, its sell is reduce-only."""
    strategy, sim = start(market=PERP, inventory=D(0), grid_type="long")
    assert {o.side for o in sim.open.values()} == {"Bid"}
    sim.move(D("99.9"))
    asks = [o for o in sim.open.values() if o.side == "Ask"]
    assert asks and all(o.reduce_only for o in asks)
    assert strategy.state.position >= 0


def test_max_position_gate_counts_open_opening_orders() -> None:
    """max_position 3: only 3 opening buys go out even though 6 slots sit below the price."""
    strategy, sim = start(market=PERP, inventory=D(0), grid_type="long", max_position=D(3))
    assert len([o for o in sim.open.values() if o.side == "Bid"]) == 3
    sim.move(D("97.5"))  # fills buys at 100, 98 -> position 2, sells placed, 1 opening buy left
    opening = [o for o in sim.open.values() if o.opening]
    assert strategy.state.position + sum(o.quantity for o in opening) <= 3
    assert any(e.kind == "max_position" for e in strategy.drain_events())


def test_boundary_pause_cancels_and_resumes_in_range() -> None:
    """Leaving the range pauses (all orders cancelled); coming back resumes and re-places."""
    strategy, sim = start(boundary_tolerance=D("0.01"))
    sim.move(D("112"))
    assert strategy.state.status == "paused" and not sim.open
    sim.move(D("105.5"))
    assert strategy.state.status == "running" and sim.open


def test_stop_only_keeps_position_and_stays_stopped() -> None:
    """stop_only: orders gone, position kept, stopped with a reason; a price return does nothing."""
    strategy, sim = start(market=PERP, inventory=D(0), boundary_action="stop_only")
    sim.move(D("95.5"))
    sim.move(D("80"))
    position = strategy.state.position
    assert strategy.state.status == "stopped" and "left the range" in (strategy.state.reason or "")
    assert not sim.open and position > 0
    sim.move(D("100"))
    assert strategy.state.position == position
    assert strategy.state.status == "stopped" and not sim.open


def test_emergency_close_flattens_with_reduce_only_market_order() -> None:
    """emergency_close: cancel all, then one reduce-only market order closes the position."""
    strategy, sim = start(market=PERP, inventory=D(0), boundary_action="emergency_close")
    sim.move(D("95.5"))
    assert strategy.state.position > 0
    sent_before = len(sim.sent)
    sim.move(D("80"))
    sim.run(strategy.plan(sim.now))
    assert strategy.state.position == 0 and strategy.state.status == "stopped"
    assert not strategy.state.closing
    assert len(sim.sent) == sent_before + 1
    assert any(e.kind == "position_closed" for e in strategy.drain_events())


def test_adjust_range_recentres_on_price() -> None:
    """adjust_range: the grid moves to a range of the same width centred on the price."""
    strategy, sim = start(market=PERP, inventory=D(0), boundary_action="adjust_range")
    sim.move(D("120"))
    assert strategy.state.status == "running"
    assert (strategy.state.lower, strategy.state.upper) == (D(110), D(130))
    assert all(o.price is not None and D(110) <= o.price <= D(130) for o in sim.open.values())


def test_stop_loss_and_take_profit_fire_on_total_pnl() -> None:
    """A loss beyond stop_loss stops the grid; a profit beyond take_profit does too."""
    strategy, sim = start(
        market=PERP,
        inventory=D(0),
        stop_loss=D(5),
        boundary_action="stop_only",
        boundary_tolerance=D(1),
    )
    sim.move(D("93.5"))  # bought 100, 98, 96, 94 -> position 4; at 93.5 loss = 14
    assert strategy.state.status == "stopped" and "stop_loss" in (strategy.state.reason or "")
    strategy, sim = start(market=PERP, inventory=D(0), take_profit=D(1), boundary_tolerance=D(1))
    sim.move(D("99.5"))
    sim.move(D("102.5"))
    assert strategy.state.status == "stopped" and "take_profit" in (strategy.state.reason or "")


def test_adjust_keeps_matching_orders_and_cancels_the_rest() -> None:
    """Widening the top keeps the common orders (same ids), places the new, cancels none wrongly."""
    strategy, sim = start(market=PERP, inventory=D(0))
    before = {o.client_id: (o.side, o.price) for o in sim.open.values()}
    strategy.adjust(D(90), D(120), 16)  # same 2.0 step, range grows to 120
    sim.run(strategy.plan(sim.now))
    after = {o.client_id: (o.side, o.price) for o in sim.open.values()}
    assert set(before) <= set(after)
    assert ("Ask", D(120)) in after.values()
    assert strategy.state.upper == D(120)


def test_bad_adjust_changes_nothing() -> None:
    """An inverted range raises GridError naming the field, and the state is untouched."""
    strategy, _ = start()
    snapshot = state_to_dict(strategy.state)
    with pytest.raises(GridError) as err:
        strategy.adjust(D(120), D(110), None)
    assert err.value.field == "grid_lower_price"
    assert state_to_dict(strategy.state) == snapshot


def test_state_round_trips_through_json() -> None:
    """The saved document restores an identical state."""
    strategy, sim = start(market=PERP, inventory=D(0))
    sim.move(D("97.5"))
    doc = state_to_dict(strategy.state)
    assert state_to_dict(state_from_dict(doc)) == doc


def test_rejected_close_is_not_resent_without_reduce_only() -> None:
    """A rejected reduce-only close frees the slot for a while; the retry is reduce-only again."""
    strategy, sim = start(market=PERP, inventory=D(0))
    sim.move(D("104.1"))
    close = next(o for o in sim.open.values() if o.reduce_only)
    sim.open.pop(close.client_id)
    strategy.on_rejected(close.client_id, "INVALID_ORDER", "ReduceOnlyNotReduced", sim.now)
    assert strategy.plan(sim.now) == []
    retry = [a for a in strategy.plan(sim.now + 10_000) if hasattr(a, "order")]
    assert retry and all(a.order.reduce_only for a in retry)  # type: ignore[union-attr]


def test_decision_due_says_when_a_price_would_change_the_status() -> None:
    """The runner reads every fill over REST before a price that changes the grid's status;
    `decision_due` says which prices do, exactly as `on_price` then acts, and changes nothing."""

    def acts(strategy: GridStrategy, price: D) -> bool:
        trial = copy.deepcopy(strategy)
        before = (trial.state.status, trial.state.lower, trial.state.upper)
        trial.on_price(price, 10_000_000)
        return (trial.state.status, trial.state.lower, trial.state.upper) != before

    prices = [D(p) / 2 for p in range(140, 260, 3)]  # 70 .. 129.5
    cases = [
        start(market=PERP, inventory=D(0), stop_loss=D(5), boundary_tolerance=D("0.01")),
        start(market=PERP, inventory=D(0), take_profit=D(1), boundary_tolerance=D(1)),
        start(market=PERP, inventory=D(0), boundary_action="adjust_range"),
        start(boundary_tolerance=D("0.01")),
    ]
    for strategy, sim in cases:
        for moves in ([], [D("95.5")], [D("95.5"), D("99.5")], [D(112)]):
            for move in moves:
                sim.move(move)
            strategy.drain_events()
            doc = state_to_dict(strategy.state)
            due = [p for p in prices if strategy.decision_due(p)]
            assert due == [p for p in prices if acts(strategy, p)], (strategy.state.status, moves)
            assert state_to_dict(strategy.state) == doc and not strategy.drain_events()
    paused, sim = start(boundary_tolerance=D("0.01"))
    sim.move(D(112))
    assert paused.state.status == "paused"
    assert not paused.decision_due(D(113)) and paused.decision_due(D(105))
    # Every pause that holds the position watches the limits (the operator's, the
    # invariant's); a position-mismatch pause and a stopped grid watch nothing.
    pauses = {
        "operator": lambda s: s.pause("paused by operator"),
        "invariant": lambda s: s.pause("invariant_broken: test", keep_exits=True),
        "mismatch": lambda s: s.pause("position_mismatch: the grid holds 3 ..."),
        "stopped": lambda s: s.stop("stopped by operator", keep_orders=True),
    }
    fired = dict.fromkeys(pauses, 0)
    for name, hold in pauses.items():
        for limits in ({"stop_loss": D(5)}, {"take_profit": D(1)}, {"stop_loss": D(20)}):
            strategy, sim = start(market=PERP, inventory=D(0), boundary_tolerance=D(1), **limits)
            sim.move(D("97.5"))  # long 2 (bought 100 and 98), inside every limit
            assert strategy.state.status == "running" and strategy.state.position == 2
            assert hold(strategy)
            sim.run(strategy.plan(sim.now))
            strategy.drain_events()
            doc = state_to_dict(strategy.state)
            due = [p for p in prices if strategy.decision_due(p)]
            assert due == [p for p in prices if acts(strategy, p)], (name, limits)
            assert state_to_dict(strategy.state) == doc and not strategy.drain_events()
            fired[name] += len(due)
    assert fired["operator"] and fired["invariant"]
    assert fired["mismatch"] == fired["stopped"] == 0


def test_a_flat_grid_forgets_its_mark() -> None:
    """The runner reads the mark only while the grid holds a position: kept once flat, it
    valued the next position at a price from when the grid last held one. After a close at a
    low (a stop, a flatten) and a resume when the price came back, the first fill's limit check
    (the fast path checks before it reads the mark again) saw a loss that was never there and
    fired the stop-loss."""
    strategy, sim = start(market=PERP, inventory=D(0), stop_loss=D(17))
    sim.move(D("93.5"))  # buys at 100, 98, 96 and 94 fill: 14 down at 93.5
    assert strategy.state.position == 4 and strategy.state.status == "running"
    strategy.state.mark_price = D("93.5")  # what the runner's mark read keeps while held
    strategy.stop("flatten", flatten=True)
    for _ in range(3):  # the cancels, then the market close (filled at the last price)
        sim.run(strategy.plan(sim.now))
    assert strategy.state.position == 0 and not strategy.state.closing
    sim.move(D(101))  # the price comes back while the grid is stopped
    assert strategy.resume("operator")
    sim.run(strategy.plan(sim.now))
    loss = strategy.state.total_pnl()
    assert -15 < loss < -14  # the close realized about 14
    sim.move(D(98))  # the buys at 100 and 98 fill: PnL ~ loss - 2 (at the stale 93.5: - 11)
    assert strategy.state.position == 2
    assert strategy.state.status == "running", strategy.state.reason
