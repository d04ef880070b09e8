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


def test_issued_ids_are_read_from_the_table_not_held_in_memory(tmp_path: Path) -> None:
    """The ids answer from SQLite: an intent saved by this store is ours at once, one written by
    another connection to the same file (a later process) too, and questions with ids the
    exchange may hold for other clients (not an int, beyond SQLite's 64 bits) are "not ours"
    rather than an error."""
    path = store_path(tmp_path, "bot-i")
    store = Store(path)
    strategy = GridStrategy.fresh("bot-i", config(), PERP, D("101.5"))
    places = [a for a in strategy.plan(0) if isinstance(a, Place)]
    first, *rest = (p.order for p in places)
    store.save(strategy.state, intents=[first])
    assert first.client_id in store.issued
    assert all(o.client_id not in store.issued for o in rest)
    other = Store(path)
    other.save(strategy.state, intents=rest)
    other.close()
    assert all(o.client_id in store.issued for o in rest)
    assert len(store.issued) == len(places)
    assert None not in store.issued
    assert str(first.client_id) not in store.issued
    assert True not in store.issued
    assert 2**70 not in store.issued and -(2**70) not in store.issued
    store.close()


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


def test_price_only_changes_are_written_at_most_every_price_save_s(tmp_path: Path) -> None:
    """A quiet poll (only the price moved) writes nothing until PRICE_SAVE_S passed; any other
    change is written at once; an unchanged state is never rewritten."""
    import orjson

    from gridkeeper.bot.store import PRICE_SAVE_S

    path = store_path(tmp_path, "bot-q")
    store = Store(path)
    strategy = GridStrategy.fresh("bot-q", config(), PERP, D("101.5"))
    st = strategy.state

    def stored() -> dict[str, object]:
        with sqlite3.connect(path) as db:
            doc: dict[str, object] = orjson.loads(db.execute("SELECT doc FROM state").fetchone()[0])
        return doc

    store.save(st)
    st.last_price = D("101.6")
    store.save(st)
    assert stored()["last_price"] == "101.5"  # price only, too soon: not written
    st.status = "paused"
    store.save(st)
    assert (stored()["status"], stored()["last_price"]) == ("paused", "101.6")
    st.last_price = D("101.7")
    store._saved_at -= PRICE_SAVE_S  # as if PRICE_SAVE_S had passed
    store.save(st)
    assert stored()["last_price"] == "101.7"
    store._saved_at -= PRICE_SAVE_S
    before = store._saved_at
    store.save(st)  # nothing changed at all: no write
    assert store._saved_at == before
    store.close()
