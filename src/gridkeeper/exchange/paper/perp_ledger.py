"""The funding ledger in the paper exchange's SQLite file: rates per interval, payments per account.

Its own tables beside the store's, on the store's connection (same thread, same file). Rows are
written by `Store.apply` in the transaction that writes the balances they pay, so a crash never
leaves a payment in the ledger that the balance lacks (or the reverse). The last recorded
interval end is what stops a restarted exchange from paying an interval twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from decimal import Decimal

from gridkeeper.exchange.paper.book import FundingPayment, FundingRate

SCHEMA = """
CREATE TABLE IF NOT EXISTS funding_rates (
    symbol TEXT NOT NULL, interval_end_ms INTEGER NOT NULL, rate TEXT NOT NULL,
    PRIMARY KEY (symbol, interval_end_ms));
CREATE TABLE IF NOT EXISTS funding_payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, symbol TEXT NOT NULL,
    interval_end_ms INTEGER NOT NULL, quantity TEXT NOT NULL, rate TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS funding_payments_account ON funding_payments (account, id);
"""


def write(
    db: sqlite3.Connection, rates: Iterable[FundingRate], payments: Iterable[FundingPayment]
) -> None:
    """Insert settled rates and payments inside the caller's transaction (`Store.apply`), the
    one that also writes the balances they were paid from: a crash keeps both or neither."""
    db.executemany(
        "INSERT OR REPLACE INTO funding_rates VALUES (?, ?, ?)",
        [(r.symbol, r.interval_end_ms, str(r.rate)) for r in rates],
    )
    db.executemany(
        "INSERT INTO funding_payments (account, symbol, interval_end_ms, quantity, rate) "
        "VALUES (?, ?, ?, ?, ?)",
        [(p.account, p.symbol, p.interval_end_ms, str(p.quantity), str(p.rate)) for p in payments],
    )


class FundingLedger:
    """Reads of the ledger; rows are written by `Store.apply` through `write`."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.db.executescript(SCHEMA)

    def last_interval_end(self) -> int | None:
        row = self.db.execute("SELECT MAX(interval_end_ms) FROM funding_rates").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def cumulative(self) -> dict[tuple[str, str], Decimal]:
        """Funding received (+) or paid (-) so far, per (account, symbol)."""
        totals: dict[tuple[str, str], Decimal] = {}
        for account, symbol, quantity in self.db.execute(
            "SELECT account, symbol, quantity FROM funding_payments"
        ):
            key = (account, symbol)
            totals[key] = totals.get(key, Decimal(0)) + Decimal(quantity)
        return totals

    def payments(
        self, account: str, symbol: str | None, limit: int, offset: int, *, ascending: bool
    ) -> tuple[list[FundingPayment], int]:
        """One page of an account's payments, newest first unless ascending; and the total."""
        match = "FROM funding_payments WHERE account = ? AND (? IS NULL OR symbol = ?)"
        args = (account, symbol, symbol)
        (total,) = self.db.execute("SELECT COUNT(*) " + match, args).fetchone()
        order = "ORDER BY id ASC" if ascending else "ORDER BY id DESC"
        rows = self.db.execute(
            "SELECT account, symbol, interval_end_ms, quantity, rate "
            + match
            + " "
            + order
            + " LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        found = [FundingPayment(a, s, int(t), Decimal(q), Decimal(r)) for a, s, t, q, r in rows]
        return found, int(total)

    def rates(self, symbol: str, limit: int, offset: int) -> tuple[list[FundingRate], int]:
        """One page of a market's settled rates, newest first; and the total."""
        (total,) = self.db.execute(
            "SELECT COUNT(*) FROM funding_rates WHERE symbol = ?", (symbol,)
        ).fetchone()
        rows = self.db.execute(
            "SELECT symbol, interval_end_ms, rate FROM funding_rates WHERE symbol = ? "
            "ORDER BY interval_end_ms DESC LIMIT ? OFFSET ?",
            (symbol, limit, offset),
        )
        return [FundingRate(s, int(t), Decimal(r)) for s, t, r in rows], int(total)
