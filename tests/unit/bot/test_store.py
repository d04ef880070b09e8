"""The order store: WAL, state round trip, idempotent fills, issued ids survive reopening."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D
from pathlib import Path

from gridkeeper.bot.state import state_to_dict
from gridkeeper.bot.store import Store, store_path
from gridkeeper.bot.strategy import GridStrategy, Place
from gridkeeper.exchange.models import Fill

from .sim import PERP, config


def test_state_intents_and_fills_survive_reopen(tmp_path: Path) -> None:
    """What was saved is what a new process loads; a fill recorded twice is stored once."""
    path = store_path(tmp_path, "bot-s")
    store = Store(path)
    assert store.load() is None
    strategy = GridStrategy.fresh("bot-s", config(), PERP, D("101.5"))
    places = [a for a in strategy.plan(0) if isinstance(a, Place)]
    store.save(strategy.state, intents=[p.order for p in places])
    fill = Fill(
        trade_id="t1",
        order_id="1",
        client_id=places[0].order.client_id,
        symbol=PERP.symbol,
        side="Bid",
        price=D(100),
        quantity=D(1),
        fee=D(0),
        fee_symbol="USDC",
        is_maker=True,
        timestamp_ms=1,
    )
    store.save(strategy.state, fills=[fill])
    store.save(strategy.state, fills=[fill])
    store.close()

    again = Store(path)
    loaded = again.load()
    assert loaded is not None and state_to_dict(loaded) == state_to_dict(strategy.state)
    assert again.issued == {p.order.client_id for p in places}
    assert again.seen(["t1", "t2"]) == {"t1"}
    assert again.fill_count() == 1
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    again.close()
