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


def test_state_document_is_the_same_bytes_as_the_dict_walk() -> None:
    """store.state_json (orjson's own dataclass encoding, run every poll) writes exactly what
    orjson.dumps(state_to_dict(...)) wrote: orders keyed by clientId, Decimals as plain
    strings (no exponent), None prices, lots, generations; and it reads back the same."""
    import orjson

    from gridkeeper.bot.state import Lot, state_from_dict
    from gridkeeper.bot.store import state_json

    strategy = GridStrategy.fresh("bot-j", config(), PERP, D("101.5"))
    for action in strategy.plan(0):
        if isinstance(action, Place):
            strategy.on_placed(action.order.client_id, f"o{action.order.client_id}", "New", D(0))
    st = strategy.state
    st.lots = [Lot(D("1E+1"), D("-0.00000001"))]
    st.mark_price, st.generations, st.funding_checkpoint_ms = D("101.4"), {3: 2}, None
    next(iter(st.orders.values())).price = None
    assert len(st.orders) >= 5
    doc = state_json(st)
    assert doc == orjson.dumps(state_to_dict(st))
    assert b'"10"' in doc and b'"-0.00000001"' in doc
    assert state_json(state_from_dict(orjson.loads(doc))) == doc
