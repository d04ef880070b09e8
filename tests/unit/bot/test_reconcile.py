"""Restart scenarios: reconcile adopts, applies missed fills, frees, ignores foreign orders."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from gridkeeper.bot.reconcile import reconcile
from gridkeeper.bot.state import TrackedOrder, state_from_dict, state_to_dict
from gridkeeper.bot.strategy import Cancel, GridStrategy, Place
from gridkeeper.exchange.models import Fill, Order

from .sim import PERP, Sim, config


def running() -> tuple[GridStrategy, Sim]:
    strategy = GridStrategy.fresh("bot-r", config(), PERP, D("101.5"))
    sim = Sim(strategy)
    sim.run(strategy.plan(sim.now))
    return strategy, sim


def restart(strategy: GridStrategy, sim: Sim, doc: dict) -> GridStrategy:  # type: ignore[type-arg]
    """A new process: state from the saved document, the same exchange."""
    new = GridStrategy("bot-r", strategy.config, strategy.market, state_from_dict(doc))
    sim.strategy = new
    return new


def closed_order(tracked: TrackedOrder, executed: D) -> Order:
    """How the exchange's order history shows one of our orders after it was cancelled."""
    return Order(
        id=tracked.order_id or "",
        client_id=tracked.client_id,
        symbol=PERP.symbol,
        side=tracked.side,
        order_type="Limit",
        price=tracked.price,
        quantity=tracked.quantity,
        executed_quantity=executed,
        executed_quote_quantity=D(0),
        status="Cancelled",
        reduce_only=tracked.reduce_only,
        post_only=True,
        created_at_ms=0,
    )


def open_order(oid: str, client_id: int | None, price: D) -> Order:
    """An open resting Bid of 1 as the exchange lists it."""
    return Order(
        id=oid,
        client_id=client_id,
        symbol=PERP.symbol,
        side="Bid",
        order_type="Limit",
        price=price,
        quantity=D(1),
        executed_quantity=D(0),
        executed_quote_quantity=D(0),
        status="New",
        reduce_only=False,
        post_only=client_id is not None,
        created_at_ms=0,
    )


def foreign(oid: str = "999") -> Order:
    return open_order(oid, None, D(50))


def test_fills_during_outage_are_applied_once_and_opposites_placed() -> None:
    """Fills while down are applied on restart; each level ends with exactly one order."""
    strategy, sim = running()
    delivered = {f.trade_id for f in sim.fills}
    doc = state_to_dict(strategy.state)
    sim.down = True
    sim.move(D("97.5"))  # buys at 100 and 98 fill while the bot is dead
    sim.move(D("99.1"))
    sim.down = False
    new = restart(strategy, sim, doc)
    report = reconcile(
        new,
        open_orders=sim.exchange_orders(),
        fills=sim.fills,
        issued=set(sim.sent),
        seen=delivered,
    )
    assert len(report.applied) == 2
    sim.run(new.on_price(D("99.1"), sim.now))
    assert new.state.position == D(2)
    sides = {(o.side, o.price) for o in sim.open.values()}
    assert ("Ask", D(100)) in sides and ("Ask", D(102)) in sides
    owners = [o.slot for o in sim.open.values()]
    assert sorted(owners) == list(range(10))
    assert len(sim.sent) == len(set(sim.sent))
    # Applying the same fills again changes nothing.
    again = reconcile(
        new,
        open_orders=sim.exchange_orders(),
        fills=sim.fills,
        issued=set(sim.sent),
        seen={f.trade_id for f in sim.fills},
    )
    assert again.applied == [] and new.state.position == D(2)


def test_orders_still_open_are_adopted_not_replaced() -> None:
    """A restart with nothing changed sends no order at all."""
    strategy, sim = running()
    doc = state_to_dict(strategy.state)
    sent = len(sim.sent)
    new = restart(strategy, sim, doc)
    reconcile(
        new,
        open_orders=sim.exchange_orders(),
        fills=sim.fills,
        issued=set(sim.sent),
        seen={f.trade_id for f in sim.fills},
    )
    assert new.plan(sim.now) == []
    assert len(sim.sent) == sent


def test_intent_sent_before_crash_is_adopted() -> None:
    """The intent was saved, the POST reached the exchange, the process died before the answer."""
    strategy, sim = running()
    sim.move(D("99.5"))  # buy 100 fills -> new sell intent at 102
    slot = next(s for s in strategy.state.slots if s.buy == D(100))
    cid = slot.order
    assert cid is not None
    strategy.state.orders[cid].status = "intent"
    strategy.state.orders[cid].order_id = None
    doc = state_to_dict(strategy.state)
    new = restart(strategy, sim, doc)
    report = reconcile(
        new,
        open_orders=sim.exchange_orders(),
        fills=sim.fills,
        issued=set(sim.sent),
        seen={f.trade_id for f in sim.fills},
    )
    assert cid in report.adopted
    assert new.plan(sim.now) == []


def test_intent_never_sent_is_freed_and_placed_with_a_new_id() -> None:
    """An intent that never left the process: the slot is freed and gets a new clientId."""
    strategy, _ = running()
    sim = Sim(strategy)  # an exchange that saw nothing yet
    for order in strategy.state.orders.values():
        order.status, order.order_id = "intent", None
    issued = set(strategy.state.orders)
    doc = state_to_dict(strategy.state)
    new = restart(strategy, sim, doc)
    report = reconcile(new, open_orders=[], fills=[], issued=issued, seen=set())
    assert len(report.freed) == 10
    places = [a for a in new.plan(sim.now) if isinstance(a, Place)]
    assert len(places) == 10 and not ({a.order.client_id for a in places} & issued)


def test_foreign_orders_are_left_alone_and_duplicates_cancelled() -> None:
    """Orders not ours are never cancelled; an order with our id that no slot owns is."""
    strategy, sim = running()
    doc = state_to_dict(strategy.state)
    new = restart(strategy, sim, doc)
    dup_id = 123456
    dup = _dup(dup_id, "777")
    report = reconcile(
        new,
        open_orders=[*sim.exchange_orders(), foreign(), dup],
        fills=[],
        issued={*sim.sent, dup_id},
        seen=set(),
    )
    assert report.foreign == 1 and report.duplicates == [dup_id]
    cancels = [a for a in new.plan(sim.now) if isinstance(a, Cancel)]
    assert [c.client_id for c in cancels] == [dup_id]


def test_order_cancelled_while_down_frees_its_level() -> None:
    """An operator cancelled one of our orders during the outage: its slot is re-placed."""
    strategy, sim = running()
    doc = state_to_dict(strategy.state)
    victim = next(iter(sim.open))
    gone = sim.open.pop(victim)
    new = restart(strategy, sim, doc)
    # Until the history shows how much it filled, the level stays blocked.
    report = reconcile(
        new, open_orders=sim.exchange_orders(), fills=[], issued=set(sim.sent), seen=set()
    )
    assert report.unresolved == [victim] and report.freed == []
    assert not [a for a in new.plan(sim.now) if isinstance(a, Place)]
    cancelled = closed_order(gone, executed=D(0))
    report = reconcile(
        new,
        open_orders=sim.exchange_orders(),
        fills=[],
        issued=set(sim.sent),
        seen=set(),
        history={victim: cancelled},
    )
    assert report.freed == [victim]
    places = [a for a in new.plan(sim.now) if isinstance(a, Place)]
    assert len(places) == 1 and places[0].order.client_id != victim


def test_partially_filled_order_gone_keeps_its_partial_leg() -> None:
    """Half of a buy filled before it was cancelled: the re-placed order is for the other half,
    and the half already held gets its exit at once (an inventory close at the next level)."""
    strategy, sim = running()
    slot = next(s for s in strategy.state.slots if s.buy == D(100))
    assert slot.order is not None
    order: TrackedOrder = sim.open.pop(slot.order)
    half = D("0.5")
    from gridkeeper.exchange.models import Fill

    fill = Fill(
        trade_id="p1",
        order_id=order.order_id or "",
        client_id=order.client_id,
        symbol=PERP.symbol,
        side="Bid",
        price=D(100),
        quantity=half,
        fee=D(0),
        fee_symbol="USDC",
        is_maker=True,
        timestamp_ms=5,
    )
    report = reconcile(
        strategy,
        open_orders=sim.exchange_orders(),
        fills=[fill],
        issued=set(sim.sent),
        seen=set(),
        history={order.client_id: closed_order(order, executed=half)},
    )
    assert order.client_id in report.freed
    places = [a for a in strategy.plan(sim.now) if isinstance(a, Place)]
    assert sorted((p.order.side, p.order.price, p.order.quantity) for p in places) == [
        ("Ask", D(102), half),
        ("Bid", D(100), half),
    ]


def test_long_and_short_legs_filled_while_down_are_netted() -> None:
    """Buys 100, 98 and sell 104 filled during an outage: one long pairs with the short.

    FIFO: the sell at 104 closes the oldest lot (the buy at 98, filled first on the way down)."""
    strategy, sim = running()
    doc = state_to_dict(strategy.state)
    sim.down = True
    sim.move(D("97.9"))
    sim.move(D("104.1"))
    sim.down = False
    new = restart(strategy, sim, doc)
    reconcile(
        new, open_orders=sim.exchange_orders(), fills=sim.fills, issued=set(sim.sent), seen=set()
    )
    sim.run(new.on_price(D("101.5"), sim.now))
    assert new.state.position == 1
    fee = {f.price: f.fee for f in sim.fills}
    assert new.state.realized_profit == D(6) - fee[D(98)] - fee[D(104)]
    assert sorted(o.slot for o in sim.open.values()) == list(range(10))
    assert [(o.side, o.price) for o in sim.open.values() if o.reduce_only] == [("Ask", D(102))]


def test_cancel_recorded_before_a_crash_is_sent_again() -> None:
    """The crash came between saving "cancel sent" and sending it: the order is still open."""
    strategy, sim = running()
    victim = next(iter(sim.open))
    strategy.state.orders[victim].cancel_sent = True
    new = restart(strategy, sim, state_to_dict(strategy.state))
    reconcile(new, open_orders=sim.exchange_orders(), fills=[], issued=set(sim.sent), seen=set())
    assert new.state.orders[victim].cancel_sent is False
    new.state.status = "paused"
    cancels = [a for a in new.plan(sim.now) if isinstance(a, Cancel)]
    assert victim in {c.client_id for c in cancels}


def test_fills_of_one_moment_apply_in_trade_id_order_not_text_order() -> None:
    """Trade "10" came after trade "9": applied in text order, a sale would consume the wrong
    FIFO lot."""
    from gridkeeper.bot.reconcile import fill_order

    def fill(tid: str) -> Fill:
        return Fill(
            trade_id=tid,
            order_id="1",
            client_id=None,
            symbol="SOL_USDC",
            side="Bid",
            price=D("1"),
            quantity=D("1"),
            fee=D("0"),
            fee_symbol="USDC",
            is_maker=True,
            timestamp_ms=5,
        )

    ordered = sorted([fill("10"), fill("9"), fill("100")], key=fill_order)
    assert [f.trade_id for f in ordered] == ["9", "10", "100"]


def test_an_order_filled_between_the_reads_is_not_a_duplicate() -> None:
    """The open orders are read before the fills: an order listed open whose fills complete it
    filled in between. Taken for a duplicate it was tracked as a ghost that no fill completes,
    kept the views unsettled for ever and pushed the next closes off their levels."""
    strategy, sim = running()
    snapshot = sim.exchange_orders()  # read before the price moved
    sim.down = True  # the fills reach the bot through this reconcile only
    sim.move(D("97.5"))  # buys at 100 and 98 fill
    sim.down = False
    report = reconcile(
        strategy,
        open_orders=snapshot,
        fills=sim.fills,
        issued=set(sim.sent),
        seen=set(),
    )
    assert len(report.applied) == 2
    assert report.duplicates == []
    assert all(o.slot != -1 for o in strategy.state.orders.values())
    actions = strategy.on_price(D("97.5"), sim.now)
    assert not [a for a in actions if isinstance(a, Cancel)]
    closes = sorted((a.order.side, a.order.price) for a in actions if isinstance(a, Place))
    assert closes == [("Ask", D(100)), ("Ask", D(102))]  # each at its level


def test_an_order_the_stream_already_filled_is_not_a_duplicate() -> None:
    """The same, when the order stream applied the fills before the full reconcile read them."""
    strategy, sim = running()
    snapshot = sim.exchange_orders()
    sim.down = True
    sim.move(D("97.5"))
    sim.down = False
    strategy_fills = list(sim.fills)
    for fill in strategy_fills:
        strategy.on_fill(fill)  # what fast_fill does with the streamed fills
    report = reconcile(
        strategy,
        open_orders=snapshot,
        fills=strategy_fills,
        issued=set(sim.sent),
        seen={f.trade_id for f in strategy_fills},
    )
    assert report.applied == [] and report.duplicates == []


def test_a_partly_filled_listed_order_is_still_adopted() -> None:
    """Fills that cover only part of a listed order leave it open: it stays tracked."""
    strategy, sim = running()
    tracked = next(o for o in strategy.state.orders.values() if o.side == "Bid")
    listed = [o for o in sim.exchange_orders() if o.client_id == tracked.client_id]
    part = Fill(
        trade_id="9001",
        order_id=tracked.order_id or "",
        client_id=tracked.client_id,
        symbol=PERP.symbol,
        side="Bid",
        price=tracked.price or D(0),
        quantity=tracked.quantity / 2,
        fee=D(0),
        fee_symbol="USDC",
        is_maker=True,
        timestamp_ms=sim.now,
    )
    report = reconcile(strategy, open_orders=listed, fills=[part], issued=set(sim.sent), seen=set())
    assert report.duplicates == [] and tracked.client_id in strategy.state.orders
    assert strategy.state.orders[tracked.client_id].filled == tracked.quantity / 2


def test_a_gone_duplicate_is_dropped_at_once() -> None:
    """A duplicate no slot owns waits for no fill once the exchange no longer holds it."""
    strategy, sim = running()
    report = reconcile(
        strategy,
        open_orders=[*sim.exchange_orders(), _dup(123456)],
        fills=[],
        issued={*sim.sent, 123456},
        seen=set(),
    )
    assert report.duplicates == [123456]
    strategy.on_gone(123456, D(1))  # it filled in full before the cancel reached it
    assert 123456 not in strategy.state.orders


def _dup(client_id: int, order_id: str = "778") -> Order:
    """An open order with one of our clientIds that no slot owns."""
    return open_order(order_id, client_id, D(96))


def test_an_order_completed_between_the_reads_after_an_old_partial_fill_is_no_duplicate() -> None:
    """Fills are read from the checkpoint back FILL_OVERLAP_MS only: an order whose first part
    filled long before (applied then, the checkpoint moved on since) and whose rest filled
    between the open-orders and fills reads shows in the fills for its rest alone. The fills
    read still completed it: it is not a duplicate (it was: a ghost no fill completes, cancelled
    for nothing, and a close priced one tick off its level to clear it)."""
    strategy, sim = running()
    tracked = max(
        (o for o in strategy.state.orders.values() if o.side == "Bid"), key=lambda o: o.price or 0
    )

    def part(trade_id: str, at_ms: int) -> Fill:
        return Fill(
            trade_id=trade_id,
            order_id=tracked.order_id or "",
            client_id=tracked.client_id,
            symbol=PERP.symbol,
            side="Bid",
            price=tracked.price or D(0),
            quantity=tracked.quantity / 2,
            fee=D(0),
            fee_symbol="USDC",
            is_maker=True,
            timestamp_ms=at_ms,
        )

    old = part("9001", sim.now)
    strategy.on_fill(old)  # applied (and saved) long ago
    assert tracked.client_id in strategy.state.orders
    snapshot = [  # listed open, half filled
        replace(o, executed_quantity=old.quantity) if o.client_id == tracked.client_id else o
        for o in sim.exchange_orders()
    ]
    rest = part("9002", sim.now + 300_000)  # between the reads, minutes after the first half
    report = reconcile(
        strategy,
        open_orders=snapshot,
        fills=[rest],  # the window no longer reaches the first half
        issued=set(sim.sent),
        seen=set(),
    )
    assert report.applied == [rest]
    assert report.duplicates == []
    assert all(o.slot != -1 for o in strategy.state.orders.values())
