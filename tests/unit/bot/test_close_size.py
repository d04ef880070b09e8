"""A close never asks for more than the exchange holds: the quantity decision (bot/close_size.py)
and the strategy's close sized by the exchange's figure (planning.plan_close), pure.

The grid's books can hold more than the exchange (a part closed by hand, a limit firing before a
mismatch is confirmed): a perp reduce-only close larger than the exchange's position is refused
as a whole, and a spot sell larger than the grid's share would take the account's own base.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from gridkeeper.bot.close_size import close_size
from gridkeeper.bot.limits import MISMATCH
from gridkeeper.bot.strategy import GridStrategy, Place

from .sim import PERP, SPOT, Sim, config

STEP, MIN = D("0.01"), D("0.01")


def size(grid: str, exchange: str | None) -> tuple[str, D, str, D, bool]:
    got = close_size(
        D(grid), None if exchange is None else D(exchange), step=STEP, min_quantity=MIN
    )
    return got.verdict, got.quantity, got.side, got.write_off, got.exchange_larger


@pytest.mark.parametrize(
    ("grid", "exchange", "expected"),
    [
        # the same figure: the grid's quantity
        ("3", "3", ("send", D(3), "Ask", D(0), False)),
        ("-3", "-3", ("send", D(3), "Bid", D(0), False)),
        # the exchange holds less (closed in part by hand): only that, the rest written off
        ("3", "1", ("send", D(1), "Ask", D(-2), False)),
        ("-3", "-1.5", ("send", D("1.5"), "Bid", D("1.5"), False)),
        # the exchange holds more: only the grid's quantity (the rest is not the grid's)
        ("3", "5", ("send", D(3), "Ask", D(0), True)),
        ("-3", "-5", ("send", D(3), "Bid", D(0), True)),
        # flat on the exchange: nothing sent, the grid's whole quantity written off
        ("3", "0", ("flat", D(0), "Ask", D(-3), False)),
        ("-3", "0", ("flat", D(0), "Bid", D(3), False)),
        # the other side: nothing sent (a close would add to it), nothing written off
        ("3", "-1", ("opposite", D(0), "Ask", D(0), False)),
        ("-3", "2", ("opposite", D(0), "Bid", D(0), False)),
        # less than one order left on the exchange: nothing can be sent
        ("3", "0.005", ("dust", D(0), "Ask", D("-2.995"), False)),
        # the grid's quantity is floored to the step
        ("3.017", "4", ("send", D("3.01"), "Ask", D(0), True)),
        ("3.017", "2.999", ("send", D("2.99"), "Ask", D("-0.018"), False)),
        # no figure (the backtest): the grid's quantity, unchecked
        ("-2", None, ("send", D(2), "Bid", D(0), False)),
        # nothing for the grid to close
        ("0", "1", ("flat", D(0), "Bid", D(0), False)),
    ],
)
def test_close_quantity_decision(
    grid: str, exchange: str | None, expected: tuple[str, D, str, D, bool]
) -> None:
    assert size(grid, exchange) == expected


def test_the_sent_quantity_never_exceeds_the_exchange_nor_the_grid() -> None:
    for grid in ("0.5", "1", "2.37", "10"):
        for exchange in ("0.01", "0.3", "1", "2.37", "7"):
            for sign in (1, -1):
                g, e = D(grid) * sign, D(exchange) * sign
                got = close_size(g, e, step=STEP, min_quantity=MIN)
                assert got.verdict == "send"
                assert got.quantity == min(abs(g), abs(e))
                # Once written off, the grid holds exactly what the close flattens on both.
                assert abs(g + got.write_off) == got.quantity or got.exchange_larger


# ---- the strategy, as the bot's runner drives it -----------------------------------------


def long_3_stopping(market: object = PERP, inventory: D = D(0)) -> tuple[GridStrategy, Sim]:
    """Long 3 (bought 100, 98, 96), then `stop --flatten`: the grid's orders are cancelled."""
    over = {"boundary_tolerance": D(1)}
    strategy = GridStrategy.fresh("bot-c", config(**over), market, D("101.5"), inventory)  # type: ignore[arg-type]
    strategy.close_reads_exchange = True
    sim = Sim(strategy)
    sim.run(strategy.plan(sim.now))
    sim.move(D("95.5"))
    assert strategy.state.position - strategy.state.position0 == 3
    assert strategy.stop("stop requested", flatten=True)
    sim.run(strategy.plan(sim.now))  # the cancels; the close is the runner's (plan_close)
    assert not sim.open and strategy.state.closing
    return strategy, sim


def test_plan_sends_no_close_while_the_runner_sizes_it() -> None:
    strategy, sim = long_3_stopping()
    assert strategy.plan(sim.now) == []
    assert strategy.close_due(sim.now)


def test_a_perp_close_sends_what_the_exchange_still_holds_and_ends_flat() -> None:
    strategy, sim = long_3_stopping()
    st = strategy.state
    pnl = st.total_pnl()
    strategy.drain_events()
    assert strategy.close_due(sim.now)
    actions = strategy.plan_close(sim.now, D(1))  # 2 of the 3 were sold by hand
    assert [(a.order.side, a.order.quantity, a.order.reduce_only) for a in actions] == [
        ("Ask", D(1), True)
    ]
    # Booked before the send (with the intent): the grid's books hold the exchange's figure.
    assert st.position == 1 and st.total_pnl() == pnl
    events = {e.kind: e for e in strategy.drain_events()}
    assert events["close_capped"].data["written_off"] == "-2"
    assert events["close_capped"].data["quantity"] == "1"
    sim.run(actions)  # fills at once
    assert st.position == 0 and not st.closing and not st.orders
    assert st.status == "stopped" and "position_closed" in {e.kind for e in strategy.drain_events()}


def test_a_close_when_the_exchange_is_flat_sends_nothing_and_is_done() -> None:
    strategy, sim = long_3_stopping()
    st = strategy.state
    sent = len(sim.sent)
    assert strategy.close_due(sim.now)
    assert strategy.plan_close(sim.now, D(0)) == []
    assert st.position == 0 and not st.closing and not st.orders and len(sim.sent) == sent
    kinds = [e.kind for e in strategy.drain_events()]
    assert "close_capped" in kinds and "position_closed" in kinds


def test_a_close_against_the_other_side_sends_nothing_and_stops_for_the_operator() -> None:
    strategy, sim = long_3_stopping()
    st = strategy.state
    sent = len(sim.sent)
    assert strategy.close_due(sim.now)
    assert strategy.plan_close(sim.now, D(-2)) == []
    assert not st.closing and st.status == "stopped" and st.position == 3
    assert (st.reason or "").startswith(MISMATCH) and "the other side" in st.reason
    assert "grid adopt bot-c" in st.reason
    assert not strategy.close_due(sim.now + 10**9)  # never retried on its own
    assert len(sim.sent) == sent
    assert MISMATCH in [e.kind for e in strategy.drain_events()]


def test_an_exchange_holding_more_closes_only_the_grids_quantity() -> None:
    strategy, sim = long_3_stopping()
    actions = strategy.plan_close(sim.now, D(5)) if strategy.close_due(sim.now) else []
    assert [a.order.quantity for a in actions if isinstance(a, Place)] == [D(3)]
    sim.run(actions)
    assert strategy.state.position == 0 and not strategy.state.closing


def test_a_spot_close_sells_at_most_the_available_base() -> None:
    strategy, sim = long_3_stopping(SPOT, inventory=D(2))
    st = strategy.state
    start = st.position0
    assert strategy.close_due(sim.now)
    actions = strategy.plan_close(sim.now, D("1.5"))  # only 1.5 base is left on the account
    assert [(a.order.side, a.order.quantity, a.order.reduce_only) for a in actions] == [
        ("Ask", D("1.5"), False)
    ]
    sim.run(actions)
    assert st.position == start and not st.closing  # the grid's bought base: sold or gone


def test_an_intent_out_blocks_a_second_close() -> None:
    """A close sent (its intent saved), then a crash: the restarted grid has the close among
    its orders, so no second close is planned until the first one is resolved."""
    strategy, sim = long_3_stopping()
    assert strategy.close_due(sim.now)
    first = strategy.plan_close(sim.now, D(3))
    assert len(first) == 1
    assert not strategy.close_due(sim.now) and strategy.plan_close(sim.now, D(3)) == []
