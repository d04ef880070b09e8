"""Money safety (issue 9): every unit held has its exit; one cost basis; limits that act.

Each test reproduces one defect on the pure strategy driven by the matching simulator.
"""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from gridkeeper.bot.grid import GridError
from gridkeeper.bot.invariant import exit_gaps
from gridkeeper.bot.reconcile import reconcile
from gridkeeper.bot.state import state_from_dict, state_to_dict
from gridkeeper.bot.strategy import Cancel, GridStrategy, MarketSpec, Place
from gridkeeper.config.strategy import describe_actions
from gridkeeper.exchange.models import Fill

from .fifo import fifo_realized
from .sim import PERP, SPOT, Sim, config


def start(
    market: MarketSpec = PERP, price: D = D("101.5"), **over: object
) -> tuple[GridStrategy, Sim]:
    strategy = GridStrategy.fresh("bot-s", config(**over), market, price, D(0))
    sim = Sim(strategy)
    sim.run(strategy.plan(sim.now))
    return strategy, sim


def resting_close(sim: Sim, strategy: GridStrategy) -> D:
    """Closing quantity resting on the simulated exchange for the grid's position."""
    side = "Ask" if strategy.state.position > 0 else "Bid"
    return sum(
        (o.quantity - o.filled for o in sim.open.values() if not o.opening and o.side == side),
        D(0),
    )


def restart(strategy: GridStrategy, sim: Sim, price: D) -> GridStrategy:
    """Load the saved state into a new strategy, reconcile with the sim, and trade at `price`."""
    new = GridStrategy(
        strategy.instance,
        strategy.config,
        strategy.market,
        state_from_dict(state_to_dict(strategy.state)),
    )
    sim.strategy = new
    sim.down = False
    report = reconcile(
        new,
        open_orders=sim.exchange_orders(),
        fills=sim.fills,
        issued=set(sim.sent),
        seen=set(sim.delivered),
    )
    sim.delivered.update(f.trade_id for f in report.applied)
    sim.run(new.on_price(price, sim.now))
    return new


def q8(value: D) -> D:
    return value.quantize(D("0.00000001"))


# ---- defect 1: a range change must not orphan inventory ----------------------------------------
def long_holding_2_5() -> tuple[GridStrategy, Sim]:
    """A long perp grid 140-160 (0.5 a level) that bought 2.5 on the way down to 139.9."""
    strategy, sim = start(
        price=D(150),
        grid_lower_price=D(140),
        grid_upper_price=D(160),
        grid_type="long",
        order_quantity=D("0.5"),
        boundary_tolerance=D(1),
    )
    sim.move(D("139.9"))
    assert strategy.state.position == D("2.5")
    strategy.state.last_price = D(150)  # the market is back at 150 when the operator adjusts
    return strategy, sim


def test_adjust_below_the_price_with_inventory_is_refused_naming_the_choice() -> None:
    """Long 2.5, adjust to 120-140 at 150: no closing level above the price -> refused."""
    strategy, _ = long_holding_2_5()
    snapshot = state_to_dict(strategy.state)
    with pytest.raises(GridError) as err:
        strategy.adjust(D(120), D(140), None)
    assert err.value.field == "position"
    assert "close" in str(err.value) and "keep" in str(err.value)
    assert state_to_dict(strategy.state) == snapshot


def test_adjust_with_position_close_rests_closes_for_the_whole_position() -> None:
    """position "close": reduce-only sells for all 2.5 at the book's top, buys below."""
    strategy, sim = long_holding_2_5()
    strategy.adjust(D(120), D(140), None, position="close")
    actions = strategy.on_price(D(150), sim.now, bid=D("149.99"), ask=D("150.01"))
    sim.run(actions)
    sells = [a.order for a in actions if isinstance(a, Place) and a.order.side == "Ask"]
    assert sum(o.quantity for o in sells) == D("2.5")
    assert all(o.reduce_only and o.price == D("150.01") for o in sells)
    assert resting_close(sim, strategy) >= strategy.state.position
    assert not exit_gaps(strategy.state, PERP.min_quantity).broken


def test_adjust_with_position_keep_keeps_the_current_closing_orders() -> None:
    """position "keep": the sells already resting for the 2.5 stay where they are."""
    strategy, sim = long_holding_2_5()
    before = {o.client_id for o in sim.open.values() if o.side == "Ask"}
    strategy.adjust(D(120), D(140), None, position="keep")
    sim.run(strategy.plan(sim.now))
    after = {o.client_id for o in sim.open.values() if o.side == "Ask"}
    assert before and before <= after
    assert resting_close(sim, strategy) >= strategy.state.position


def test_recentre_keeps_an_exit_for_inventory_beyond_the_new_levels() -> None:
    """adjust_range with more inventory than closing slots above the new centre."""
    strategy, sim = start(boundary_action="adjust_range", grid_type="long", order_quantity=D(1))
    sim.move(D("89.5"))  # all six buys fill: 6 held, then the price leaves the range
    sim.move(D("88"))
    assert strategy.state.status == "running" and strategy.state.upper < 110
    assert resting_close(sim, strategy) >= strategy.state.position > 0


# ---- defect 2: stop_loss closes the position ---------------------------------------------------
def test_stop_loss_closes_the_position_with_the_default_boundary_action() -> None:
    """stop_loss 5 with boundary_action pause: the position is closed reduce-only, stopped."""
    strategy, sim = start(stop_loss=D(5), boundary_tolerance=D(1))
    sim.move(D("93.5"))  # bought 100, 98, 96, 94: loss beyond 5
    sim.run(strategy.plan(sim.now))
    st = strategy.state
    assert st.status == "stopped" and "stop_loss" in (st.reason or "")
    assert st.position == 0 and not sim.open
    assert st.unrealized_pnl() == 0 and st.realized_profit == st.total_pnl() < -5


def test_stop_only_limit_keeps_the_position() -> None:
    strategy, sim = start(stop_loss=D(5), stop_loss_action="stop_only", boundary_tolerance=D(1))
    sim.move(D("93.5"))
    assert strategy.state.status == "stopped" and strategy.state.position == 4


def test_describe_actions_says_what_each_limit_does() -> None:
    lines = describe_actions(config(stop_loss=D(5), take_profit=D(9)), spot=False)
    assert lines[0].startswith("stop_loss: when total PnL <= -5: cancel")
    assert "reduce-only market order" in lines[0]
    assert lines[1].startswith("take_profit: when total PnL >= 9")
    assert "pause" in lines[2]


# ---- defect 3: a close then resume leaves no dead slots, and its result is realized -----------
def test_emergency_close_then_resume_rebuilds_the_grid_and_realizes_the_close() -> None:
    strategy, sim = start(boundary_action="emergency_close")
    sim.move(D("95.5"))  # long 3
    sim.move(D("80"))  # out of range: cancel, close at market
    sim.run(strategy.plan(sim.now))
    st = strategy.state
    assert st.position == 0 and st.status == "stopped"
    assert st.unrealized_pnl() == 0 and st.realized_profit == st.total_pnl()
    assert all(s.phase == "open" for s in st.slots)
    sim.move(D("100.5"))
    assert strategy.resume()
    sim.run(strategy.plan(sim.now))
    assert {o.slot for o in sim.open.values()} == set(range(10))  # no slot left dead


def test_rebuild_lays_the_grid_out_from_an_adopted_position() -> None:
    """rebuild() after the position was set from the exchange: every unit gets its exit."""
    strategy, sim = start()
    strategy.state.position = D("3.5")
    strategy.rebuild("adopted the exchange position")
    sim.run(strategy.plan(sim.now))
    assert resting_close(sim, strategy) == D("3.5")
    assert any(e.kind == "grid_rebuilt" for e in strategy.drain_events())


# ---- defect 4: closing legs the market went through are placed, not skipped --------------------
def test_closes_through_the_market_after_a_gap_rest_at_the_book_top() -> None:
    """Down while 100 and 98 bought and the price jumped to 103: sells go to the best ask."""
    strategy, sim = start(grid_type="long", boundary_tolerance=D(1))
    doc_strategy = strategy
    sim.down = True
    sim.move(D("97.9"))
    sim.move(D("103"))
    new = restart(doc_strategy, sim, D(103))
    sells = [o for o in sim.open.values() if o.side == "Ask"]
    assert sum(o.quantity for o in sells) == new.state.position == 2
    assert all(o.reduce_only and o.price == D("103.01") for o in sells)


def test_taker_through_market_close_is_bounded() -> None:
    strategy, sim = start(
        grid_type="long", through_market_close="taker", close_max_slippage=D("0.01")
    )
    sim.down = True
    sim.move(D("99.9"))
    sim.move(D(103))
    strategy = restart(strategy, sim, D(103))
    sells = [o for o in sim.open.values() if o.side == "Ask"]
    # 103 * 0.99 rounded up to the tick is 101.97, but the grid's own buy rests at 102: a sell
    # in its reach would be expired by self-trade prevention, so the bound stops one tick above.
    assert any(o.side == "Bid" and o.price == D(102) for o in sim.open.values())
    assert [o.price for o in sells] == [D("102.01")]


# ---- defect 9: post-only legs are decided against the book, not the last trade -----------------
def test_legs_are_decided_against_the_best_bid_and_ask() -> None:
    """The last trade is 101.5 but the book moved to 104.2/104.3: the sell at 104 would take."""
    strategy = GridStrategy.fresh("bot-b", config(), PERP, D("101.5"))
    actions = strategy.on_price(D("101.5"), 1, bid=D("104.2"), ask=D("104.3"))
    prices = {(a.order.side, a.order.price) for a in actions if isinstance(a, Place)}
    assert ("Ask", D(104)) not in prices
    assert ("Bid", D(100)) in prices  # below the best bid: rests


# ---- defect 6: one cost basis (FIFO), through a re-centre and a restart ------------------------
def test_realized_profit_matches_an_independent_fifo_after_recentre_and_restart() -> None:
    strategy, sim = start(boundary_action="adjust_range", grid_type="long")
    for price in ("97.5", "93.5", "89.5", "88", "86.5", "85"):
        sim.move(D(price))
    assert strategy.state.lower < 90  # re-centred while holding inventory
    strategy = restart(strategy, sim, D("86"))
    for price in ("87.5", "90.5", "92.5", "89", "94"):
        sim.move(D(price))
    assert q8(strategy.state.realized_profit) == q8(fifo_realized(sim.fills))
    st = strategy.state
    assert q8(st.unrealized_pnl()) == q8(st.total_pnl() - fifo_realized(sim.fills))


def test_spot_starting_inventory_is_one_lot_at_the_start_price() -> None:
    strategy = GridStrategy.fresh("bot-sp", config(), SPOT, D("101.5"), D(100))
    sim = Sim(strategy)
    sim.run(strategy.plan(sim.now))
    sim.move(D("104.5"))  # sells 104 (and 102?) of the starting inventory
    start_lots = [(strategy.state.position0, strategy.state.value0)]
    assert q8(strategy.state.realized_profit) == q8(fifo_realized(sim.fills, start_lots))


# ---- 11: max_position is logged when it starts or stops binding, not every loop ----------------
def test_max_position_event_logged_on_change_only() -> None:
    strategy, sim = start(grid_type="long", max_position=D(3))
    for _ in range(20):
        sim.run(strategy.on_price(D("101.5"), sim.now))
    events = [e for e in strategy.drain_events() if e.kind == "max_position"]
    assert len(events) == 1


# ---- the invariant along a driven path --------------------------------------------------------
@pytest.mark.parametrize(
    ("market", "grid_type"),
    [(SPOT, "long"), (PERP, "neutral"), (PERP, "long"), (PERP, "short")],
)
def test_held_position_always_has_resting_closes_along_a_path_with_gaps(
    market: MarketSpec, grid_type: str
) -> None:
    """A seeded walk that leaves and re-enters the range, with outages (gaps) and restarts:
    after every step the grid is trading on, its position has that much resting close."""
    strategy = GridStrategy.fresh(
        "bot-w",
        config(grid_type=grid_type, boundary_tolerance=D(1), order_quantity=D("0.5")),
        market,
        D("100.5"),
        D(100) if market.spot else D(0),
    )
    sim = Sim(strategy)
    sim.run(strategy.plan(sim.now))
    rng = random.Random(11)
    price = D("100.5")
    for step in range(300):
        price = max(D(80), min(D(120), price + D(rng.randint(-300, 300)) / 100))
        if step % 50 == 25:
            sim.down = True  # outage: fills happen, the bot sees nothing
        if step % 50 == 35:
            strategy = restart(strategy, sim, price)
        sim.move(price)
        if sim.down or strategy.state.status != "running":
            continue
        held = abs(strategy.state.position) if not market.spot else strategy.state.position
        assert resting_close(sim, strategy) >= held - market.min_quantity, f"step {step}"
        assert not exit_gaps(strategy.state, market.min_quantity).broken
    assert len(sim.sent) == len(set(sim.sent))


# ---- soak finding: a partial opening fill's close must not meet the grid's own resting buy ----
@pytest.mark.parametrize("market", [SPOT, PERP])
def test_partial_fill_close_is_placed_clear_of_the_grids_own_opposite_order(
    market: MarketSpec,
) -> None:
    """The buy at 98 fills 0.8 of 1 (a thin book) and keeps resting for the rest. Its inventory
    close must not be a sell at 98: it would trade with the grid's own bid, which the exchange's
    self-trade prevention expires at once (and the bot resent it every loop with a new id)."""
    strategy = GridStrategy.fresh("bot-st", config(), market, D(100), D(5) if market.spot else D(0))
    sim = Sim(strategy)
    sim.run(strategy.plan(sim.now))
    buy = next(o for o in sim.open.values() if o.side == "Bid" and o.price == D(98))
    strategy.on_fill(
        Fill(
            "t1",
            buy.order_id or "",
            buy.client_id,
            market.symbol,
            "Bid",
            D(98),
            D("0.8"),
            D(0),
            "USDC",
            True,
            sim.now,
        )
    )
    buy.filled = D("0.8")
    actions = strategy.on_price(D(97), sim.now, bid=D("96.99"), ask=D("97.01"))
    closes = [a.order for a in actions if isinstance(a, Place) and a.order.side == "Ask"]
    assert closes and sum((o.quantity for o in closes), D(0)) == D("0.8")
    assert all(o.price is not None and o.price > D(98) for o in closes)


# ---- soak finding: the stop-loss still watches a grid paused at its boundary -----------------
def test_stop_loss_fires_while_the_grid_is_paused_at_its_boundary() -> None:
    """Below the range the grid pauses (boundary_action pause) holding its longs with a loss
    under the stop-loss; the price keeps falling: the stop-loss must still close and stop it
    (the issue's repro: paused at -6, the loss reached -69 with stop_loss 5 never acting)."""
    strategy, sim = start(grid_type="long", stop_loss=D(50))
    sim.move(D("88.5"))  # below 90 x 0.99: buys 100..90 filled (about -39), paused
    st = strategy.state
    assert st.status == "paused" and st.position == 6 and -50 < st.total_pnl() < -30
    sim.move(D(80))  # about -90 now
    sim.run(strategy.plan(sim.now))
    assert st.status == "stopped" and "stop_loss" in (st.reason or "")
    assert st.position == 0 and not sim.open


# ---- soak finding: an inventory close larger than the excess is shrunk, not kept -------------
def _fill_part(strategy: GridStrategy, sim: Sim, price: D, qty: D) -> None:
    """The sim's resting order at `price` fills `qty` (it keeps resting for the rest)."""
    order = next(o for o in sim.open.values() if o.price == price)
    sim.now += 1
    fill = Fill(
        f"p{sim.now}",
        order.order_id or "",
        order.client_id,
        strategy.market.symbol,
        order.side,
        price,
        qty,
        D(0),
        "USDC",
        True,
        sim.now,
    )
    order.filled += qty
    if order.filled >= order.quantity:
        sim.open.pop(order.client_id)
    sim.fills.append(fill)
    sim.delivered.add(fill.trade_id)
    strategy.on_fill(fill)


def test_a_partial_fills_inventory_close_shrinks_when_the_slots_own_close_takes_over() -> None:
    """The buy at 98 fills 0.3 (an inventory close of 0.3 rests for it); then, in one cycle, it
    fills the rest and the buy at 96 fills 0.2. Held 1.2; the slot's own close (1.0) and the
    inventory close (0.3) would close 1.3. The inventory close must shrink to 0.2 (it used to
    be kept whole, larger than the 0.1 excess: the slot's close was then held back and the
    0.2 of the second fill got no close - the soak's `holds 2.6, resting closes 2.3`)."""
    strategy, sim = start(price=D(100), grid_type="long")
    _fill_part(strategy, sim, D(98), D("0.3"))
    sim.run(strategy.on_price(D("98.5"), sim.now, bid=D("98.49"), ask=D("98.51")))
    assert resting_close(sim, strategy) == D("0.3")
    _fill_part(strategy, sim, D(98), D("0.7"))
    _fill_part(strategy, sim, D(96), D("0.2"))
    assert strategy.state.position == D("1.2")
    for _ in range(2):  # the cancel of the old inventory close, then nothing left to do
        sim.run(strategy.on_price(D("96.5"), sim.now, bid=D("96.49"), ask=D("96.51")))
    assert resting_close(sim, strategy) == D("1.2")
    inventory = [s for s in strategy.state.slots if s.inventory]
    assert [s.size(strategy.grid.quantity) for s in inventory] == [D("0.2")]


def test_a_slot_close_larger_than_what_is_held_is_sent_for_what_is_held() -> None:
    """The buy at 98 fills 0.3, its inventory close sells 0.1 of it, then the buy fills the
    rest: held 0.9, the slot's close is 1.0. It must go out for the 0.9 held (it used to be
    held back entirely: 0.9 held with no exit)."""
    strategy, sim = start(price=D(100), grid_type="long")
    _fill_part(strategy, sim, D(98), D("0.3"))
    sim.run(strategy.on_price(D("98.5"), sim.now, bid=D("98.49"), ask=D("98.51")))
    inv_price = next(s.sell for s in strategy.state.slots if s.inventory)
    _fill_part(strategy, sim, inv_price, D("0.1"))
    _fill_part(strategy, sim, D(98), D("0.7"))
    assert strategy.state.position == D("0.9")
    for _ in range(2):
        sim.run(strategy.on_price(D("96.5"), sim.now, bid=D("96.49"), ask=D("96.51")))
    assert resting_close(sim, strategy) == D("0.9")


# ---- soak finding: a spot sell waits for the cancel of the sell it replaces ------------------
def test_spot_replacement_sell_waits_until_the_cancelled_sell_is_gone() -> None:
    """A spot sell being cancelled keeps its base locked until the exchange has done it (a 202
    only queues the cancel): a replacement sent meanwhile is refused INSUFFICIENT_FUNDS. The
    planner must not count a cancel-pending spot sell as free inventory."""
    strategy, sim = start(SPOT, price=D(100), grid_type="long")
    strategy.state.position = D(1)  # manual state: one unit held, one close for it
    strategy.state.lots = []
    sim.run(strategy.on_price(D(100), sim.now, bid=D("99.99"), ask=D("100.01")))
    sells = [o for o in strategy.state.orders.values() if o.side == "Ask" and not o.opening]
    assert sum((o.quantity for o in sells), D(0)) == D(1)
    old = sells[0]
    old.cancel_sent = True  # its cancel was accepted with 202: still live on the exchange
    slot = next(s for s in strategy.state.slots if s.order == old.client_id)
    slot.order = None  # the slot now wants a replacement
    actions = strategy.plan(sim.now)
    assert not [a for a in actions if isinstance(a, Place) and a.order.side == "Ask"]
    strategy.on_gone(old.client_id, D(0))  # the cancel is seen done
    sim.open.pop(old.client_id, None)
    actions = strategy.plan(sim.now)
    assert [a.order.quantity for a in actions if isinstance(a, Place) and a.order.side == "Ask"]


# ---- soak finding: a close shortened while a spot sell's cancel was pending gets its rest ----
def _run_holding_cancels(sim: Sim, actions: list[Place | Cancel]) -> list[int]:
    """Send the places; hold the cancels (the exchange answered 202: the orders still rest and
    a spot sell's base stays locked). Returns the held cancels' client ids."""
    held = [a.client_id for a in actions if isinstance(a, Cancel)]
    sim.run([a for a in actions if isinstance(a, Place)])
    return held


def test_room_freed_by_a_finished_spot_cancel_goes_to_the_shortened_closes() -> None:
    """The soak's `spot at 91: holds 5.6086, resting closes 5.2`. A spot sell being cancelled
    (202) still locks its base, so closes planned meanwhile are sent for what is free: shorter
    than their level. Once the cancel is done that base is free again, but the shortened closes
    kept their size and no slot was left to use it: held position with no exit. The freed base
    must get a closing order (the invariant: held <= resting closes)."""
    strategy = GridStrategy.fresh("bot-s", config(grid_type="long"), SPOT, D(100), D("5.1"))
    sim = Sim(strategy)
    sim.run(strategy.plan(sim.now))
    assert strategy.state.position == 5 and resting_close(sim, strategy) == 5
    _fill_part(strategy, sim, D(98), D("0.3"))  # a partial buy: an inventory close of 0.3
    sim.run(strategy.on_price(D("98.5"), sim.now, bid=D("98.49"), ask=D("98.51")))
    inventory = next(o for o in strategy.state.orders.values() if o.slot >= 1024)
    # In one cycle the buy at 98 fills the rest and the buy at 96 fills: the slots' own closes
    # take over and the inventory close is cancelled; the exchange queues the cancel (202).
    _fill_part(strategy, sim, D(98), D("0.7"))
    _fill_part(strategy, sim, D(96), D(1))
    assert strategy.state.position == 7
    book = {"bid": D("95.49"), "ask": D("95.51")}
    pending = _run_holding_cancels(sim, strategy.on_price(D("95.5"), sim.now, **book))
    assert pending == [inventory.client_id]
    # Meanwhile the buy at 94 fills in part: its inventory close is sent too.
    _fill_part(strategy, sim, D(94), D("0.2"))
    pending += _run_holding_cancels(sim, strategy.on_price(D("95.5"), sim.now, **book))
    assert resting_close(sim, strategy) == D("7.2")  # counting the sell being cancelled
    # The exchange does the cancel; the bot sees it gone.
    for client_id in pending:
        sim.open.pop(client_id, None)
        strategy.on_gone(client_id, D(0))
    for _ in range(3):  # whatever cancels and replacements it takes, done at once this time
        sim.run(strategy.on_price(D("95.5"), sim.now, **book))
    assert strategy.state.position == D("7.2")
    assert resting_close(sim, strategy) == D("7.2")
    assert not exit_gaps(strategy.state, SPOT.min_quantity).broken


# ---- backtester finding: spot fee dust (buys deliver qty - fee, the fee paid in base) --------
def test_spot_base_fees_never_exhaust_the_close_allowance_over_many_round_trips() -> None:
    """A spot buy of 1 delivers 0.9998 (fee in base). Each close used to sell the whole 1, the
    sliver coming from the account's own base under a 1% allowance: after ~50 round trips the
    shortfall outgrew it, closes went out short and their slots stuck in the close phase. Closes
    now sell what was delivered (to the step): 300 round trips later every slot still trades,
    the grid's inventory never falls below what it started with, and every unit has its exit."""
    strategy = GridStrategy.fresh("bot-s", config(grid_type="long"), SPOT, D(100), D(5))
    sim = Sim(strategy, base_fee_on_buys=True)
    sim.run(strategy.plan(sim.now))
    start_position = strategy.state.position
    book = {"bid": None, "ask": None}
    for _ in range(300):  # down through the buy at 98, back up through its close at 100
        for price in (D("97.9"), D("100.1")):
            sim.move(price)
            sim.run(strategy.on_price(price, sim.now, **book))
            assert strategy.state.status == "running", strategy.state.reason
            gaps = exit_gaps(strategy.state, SPOT.min_quantity)
            assert not gaps.broken, gaps.describe()
    buys_at_98 = [f for f in sim.fills if f.side == "Bid" and f.price == D(98)]
    assert len(buys_at_98) == 300  # the slot never stuck in its close phase
    assert start_position <= strategy.state.position < start_position + SPOT.min_quantity * 2
    slot = next(s for s in strategy.state.slots if s.buy == D(98))
    assert slot.phase == "open" and strategy.state.slot_order(slot) is not None
