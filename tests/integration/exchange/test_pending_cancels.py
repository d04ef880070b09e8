"""Pending (202) cancels survive a restart: both ways back, due already or due later.

`PaperExchange` on a fake clock and a real SQLite home; closing the store without anything else
is what a kill -9 leaves (every answered change was committed). The kill -9 of a real server is
in test_restart.py."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from gridkeeper.exchange.paper.engine import OrderInput
from gridkeeper.exchange.paper.service import PaperExchange

from .conftest import PUBLIC, paper_config

DELAY_MS = 1000


def exchange(home: Path, clock: list[int]) -> PaperExchange:
    config = paper_config(unkind={"cancel_delay_ms": DELAY_MS})
    return PaperExchange(config, home, clock=lambda: clock[0])


def cancel_then_die(home: Path, clock: list[int]) -> str:
    ex = exchange(home, clock)
    engine = ex.engine
    order = ex.run(
        lambda now: engine.place(
            PUBLIC, OrderInput("SOL_USDC", "Ask", "Limit", D("1"), D("160")), now
        )
    )
    assert (
        ex.run(lambda now: engine.request_cancel(PUBLIC, "SOL_USDC", order.id, None, now)) is None
    )
    ex.store.close()
    return order.id


def pending_rows(ex: PaperExchange) -> list[tuple[str, int]]:
    return list(ex.store.db.execute("SELECT order_id, due_ms FROM pending_cancels"))


@pytest.mark.parametrize("late", [False, True])
def test_a_pending_cancel_completes_after_a_restart(tmp_path: Path, late: bool) -> None:
    clock = [1_000_000]
    order_id = cancel_then_die(tmp_path, clock)
    due = clock[0] + DELAY_MS
    clock[0] = due + 1 if late else due - 1
    ex = exchange(tmp_path, clock)
    try:
        if late:  # already due at start: done while starting
            assert order_id not in ex.engine.orders and pending_rows(ex) == []
        else:  # not yet due: still open and fillable, and the due time kept
            assert ex.engine.orders[order_id].is_open
            assert ex.engine.pending_cancels == {order_id: due}
            clock[0] = due
            ex.run(ex.engine.complete_due)
            assert order_id not in ex.engine.orders and pending_rows(ex) == []
        [closed] = ex.store.order_history(PUBLIC, "SOL_USDC", order_id, 10, 0)
        assert closed.status == "Cancelled"
        assert ex.engine.balance(PUBLIC, "SOL").locked == 0
    finally:
        ex.store.close()


def test_a_fill_before_the_due_time_clears_the_pending_row(tmp_path: Path) -> None:
    clock = [1_000_000]
    order_id = cancel_then_die(tmp_path, clock)
    ex = exchange(tmp_path, clock)
    try:
        assert pending_rows(ex) == [(order_id, clock[0] + DELAY_MS)]
        ex.set_price("SOL_USDC", D("161"))  # trades through the ask: filled before cancelled
        assert pending_rows(ex) == [] and ex.engine.pending_cancels == {}
        [filled] = ex.store.order_history(PUBLIC, "SOL_USDC", order_id, 10, 0)
        assert filled.status == "Filled"
    finally:
        ex.store.close()
