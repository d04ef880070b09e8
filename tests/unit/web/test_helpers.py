"""The dashboard's pure pieces: the token a request carries, the prefix, PnL from fills."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import orjson

from gridkeeper.web import auth, fills
from gridkeeper.web.prefix import clean_prefix


def test_the_token_comes_from_the_bearer_header_or_the_cookie() -> None:
    assert auth.presented_token({"authorization": "Bearer abc"}) == "abc"
    assert auth.presented_token({"cookie": "a=1; gridkeeper_web=xyz; b=2"}) == "xyz"
    assert auth.presented_token({"cookie": "other=1"}) is None
    assert auth.presented_token({"cookie": '"\\'}) is None  # malformed: no token, no error
    assert auth.presented_token({}) is None
    assert auth.token_matches("abc", "abc")
    assert not auth.token_matches("abc", "abd")
    assert not auth.token_matches("abc", None)
    assert auth.is_json("application/json; charset=utf-8")
    assert not auth.is_json("application/x-www-form-urlencoded")


def test_the_token_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    first = auth.ensure_token(tmp_path)
    path = auth.token_path(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert auth.ensure_token(tmp_path) == first and len(first) >= 32
    path.chmod(0o644)  # loosened by hand: tightened again
    assert auth.ensure_token(tmp_path) == first
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text("")  # emptied: a new token
    assert auth.ensure_token(tmp_path) not in ("", first)


def test_prefixes_are_normalised_and_odd_ones_ignored() -> None:
    assert clean_prefix("/gk/") == "/gk"
    assert clean_prefix("gk") == "/gk"
    assert clean_prefix("/a/b") == "/a/b"
    assert clean_prefix("/") == ""
    assert clean_prefix("") == ""
    for bad in ("/gk?x", "/../x", "//evil.example", '/gk"><script>', "/a b"):
        assert clean_prefix(bad) == ""


def _store(path: Path, doc: dict[str, object], rows: list[tuple[object, ...]]) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE state (id INTEGER PRIMARY KEY, doc BLOB, updated_ms INTEGER)")
    db.execute(
        "CREATE TABLE fills (trade_id TEXT, order_id TEXT, client_id INTEGER, side TEXT, "
        "price TEXT, quantity TEXT, fee TEXT, fee_symbol TEXT, ts_ms INTEGER)"
    )
    db.execute("INSERT INTO state VALUES (1, ?, 5000)", (orjson.dumps(doc),))
    db.executemany("INSERT INTO fills VALUES (?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    db.close()


def test_pnl_after_each_fill_replays_the_bots_formula(tmp_path: Path) -> None:
    # Start: 2 SOL held at 100 (value0 200), cash 0. Buy 1 @ 98 (fee 0.01 SOL), sell 1 @ 102
    # (fee 0.05 USDC). Now: position 1.99, cash -98 + 102 - 0.05 = 3.95, last price 101.
    doc = {"value0": "200", "cash": "3.95", "position": "1.99", "last_price": "101"}
    rows = [
        ("t1", "o1", 1, "Bid", "98", "1", "0.01", "SOL", 1000),
        ("t2", "o2", 2, "Ask", "102", "1", "0.05", "USDC", 2000),
    ]
    path = tmp_path / "bot.db"
    _store(path, doc, rows)
    out = fills.read(path, base="SOL")
    assert [f["ts_ms"] for f in out["fills"]] == [2000, 1000]  # newest first
    pnl = [(p["ts_ms"], Decimal(p["pnl"])) for p in out["pnl"]]
    # After the buy: cash -98, position 2.99, at 98: -98 + 293.02 - 200 = -4.98
    # After the sell: cash 3.95, position 1.99, at 102: 3.95 + 202.98 - 200 = 6.93
    # Saved now: 3.95 + 1.99 * 101 - 200 = 4.94 (the saved state, at the last price)
    assert pnl == [(1000, Decimal("-4.98")), (2000, Decimal("6.93")), (5000, Decimal("4.94"))]
    assert out["total"] == "4.94"


def test_a_missing_store_is_no_fills_not_an_error(tmp_path: Path) -> None:
    assert fills.read(tmp_path / "none.db") == {
        "fills": [],
        "pnl": [],
        "total": None,
        "store": False,
    }
