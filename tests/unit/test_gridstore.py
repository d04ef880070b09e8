"""gridstore: the grid bot store reader `gridkeeper profit` and Telegram /profit share."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import orjson
import pytest

from gridkeeper.gridstore import StoreError, Totals, read_totals, store_paths, totals

DOC = {
    "cash": "1010.5",
    "value0": "1000",
    "position": "2",
    "mark_price": "101",
    "last_price": "99",
    "realized_profit": "3.25",
    "fees": "0.4",
    "funding": "-0.1",
    "quantity": "1",
    "fills_applied": 7,
}


def _store(home: Path, name: str, doc: Any = DOC, *, raw: bytes | None = None) -> Path:
    folder = home / "bots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE state (id INTEGER PRIMARY KEY, doc TEXT)")
    if doc is not None or raw is not None:
        db.execute("INSERT INTO state VALUES (1, ?)", (raw or orjson.dumps(doc),))
    db.commit()
    db.close()
    return path


def test_totals_are_the_bots_own_sums_at_the_mark_price() -> None:
    # total = cash - value0 + position * mark (the mark wins over the last price).
    assert totals(DOC) == Totals(
        realized=D("3.25"),
        unrealized=D("212.5") - D("3.25"),
        total=D("212.5"),
        fees=D("0.4"),
        funding=D("-0.1"),
        position=D("2"),
        fills=7,
        order_quantity=D("1"),
    )
    bare = totals({"cash": "5", "value0": "5", "position": "1"})
    assert bare.total == 0 and bare.order_quantity is None and bare.fills == 0


def test_read_totals_from_a_store_opened_read_only(tmp_path: Path) -> None:
    path = _store(tmp_path, "sol")
    assert read_totals(path).total == D("212.5")
    before = path.read_bytes()
    read_totals(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("doc", "raw", "message"),
    [
        (None, None, "holds no grid state yet"),
        (None, b"{not json", "unreadable grid state"),
        ({**DOC, "cash": "lots"}, None, "unreadable grid state"),
        ({**DOC, "position": "NaN"}, None, "unreadable grid state"),
        ([1, 2], None, "unreadable grid state"),
    ],
)
def test_a_store_without_a_readable_state_says_so(
    tmp_path: Path, doc: Any, raw: bytes | None, message: str
) -> None:
    path = _store(tmp_path, "sol", doc, raw=raw)
    with pytest.raises(StoreError, match=message):
        read_totals(path)


def test_a_file_that_is_not_a_store_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "bots" / "junk.db"
    path.parent.mkdir()
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        read_totals(path)


def test_store_paths_name_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no grid stores in .*no grid bot has run"):
        store_paths(tmp_path)
    b, a = _store(tmp_path, "b"), _store(tmp_path, "a")
    assert store_paths(tmp_path) == [a, b]
    assert store_paths(tmp_path, ["b"]) == [b]
    with pytest.raises(StoreError, match=r"nope: no store at .*has this grid ever run here"):
        store_paths(tmp_path, ["a", "nope"])
    for bad in ("sub/c", "../bots/a", "..", ""):
        with pytest.raises(StoreError, match="is not a grid name"):
            store_paths(tmp_path, [bad])
