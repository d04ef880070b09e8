"""A grid's fills and its PnL over time, from the bot's store (`<home>/bots/<name>.db`), opened
read-only like `gridkeeper profit` does (gridkeeper/gridstore.py: the store's file contract).

PnL after each fill is the bot's own formula (`cash + position x price - value0`, bot/state.py),
replayed: the grid starts with cash 0 and the position that, with every fill applied, gives the
position saved now; each point values the position at that fill's price. The last point is the
saved state at its valuation price (funding included, which fills do not carry). Decimal
throughout; the series is sent as strings.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from gridkeeper.gridstore import connect

ZERO = Decimal(0)
MAX_FILLS = 5000  # a chart of more points says nothing more; the table shows the newest


def _d(value: Any) -> Decimal:
    return ZERO if value in (None, "") else Decimal(str(value))


def read(path: Path, base: str | None = None, limit: int = MAX_FILLS) -> dict[str, Any]:
    """`{"fills": [...newest first], "pnl": [{"ts_ms", "pnl"}...oldest first], "total"}`."""
    if not path.is_file():
        return {"fills": [], "pnl": [], "total": None, "store": False}
    db = connect(path)
    try:
        row = db.execute("SELECT doc, updated_ms FROM state WHERE id = 1").fetchone()
        fills = db.execute(
            "SELECT side, price, quantity, fee, fee_symbol, ts_ms FROM fills "
            "ORDER BY ts_ms DESC LIMIT ?",
            (limit,),
        ).fetchall()
    finally:
        db.close()
    fills.reverse()
    doc = {**orjson.loads(row[0]), "saved_ms": row[1]} if row else {}
    rows = [
        {
            "side": side,
            "price": str(price),
            "quantity": str(qty),
            "fee": str(fee),
            "fee_symbol": fee_symbol,
            "ts_ms": ts_ms,
        }
        for side, price, qty, fee, fee_symbol, ts_ms in fills
    ]
    return {"fills": rows[::-1], **series(doc, rows, base), "store": True}


def series(doc: dict[str, Any], fills: list[dict[str, Any]], base: str | None) -> dict[str, Any]:
    value0 = _d(doc.get("value0"))
    position_now = _d(doc.get("position"))

    def base_change(f: dict[str, Any]) -> Decimal:
        qty = _d(f["quantity"]) if f["side"] == "Bid" else -_d(f["quantity"])
        if base is not None and f["fee_symbol"] == base:
            qty -= _d(f["fee"])
        return qty

    position = position_now - sum((base_change(f) for f in fills), ZERO)
    cash = ZERO
    points: list[dict[str, Any]] = []
    for f in fills:
        price, qty = _d(f["price"]), _d(f["quantity"])
        cash += -price * qty if f["side"] == "Bid" else price * qty
        if base is None or f["fee_symbol"] != base:
            cash -= _d(f["fee"])
        position += base_change(f)
        points.append({"ts_ms": f["ts_ms"], "pnl": str(cash + position * price - value0)})
    total: str | None = None
    price_now = doc.get("mark_price") or doc.get("last_price")
    if doc:
        value = _d(doc.get("cash")) - value0
        if price_now is not None:
            value += position_now * _d(price_now)
        total = str(value)
        last_ts = points[-1]["ts_ms"] if points else 0
        points.append({"ts_ms": max(last_ts, int(doc.get("saved_ms") or last_ts)), "pnl": total})
    return {"pnl": points, "total": total}
