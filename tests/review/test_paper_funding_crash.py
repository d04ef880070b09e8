"""R1 review: the funding ledger and the balances it pays are one fact, so one transaction."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from gridkeeper.exchange.paper.engine import OrderInput
from gridkeeper.exchange.paper.service import PaperExchange
from tests.integration.exchange.conftest import PUBLIC, paper_config

PERP = "SOL_USDC_PERP"
INTERVAL_S = 60


def exchange(home: Path, clock: list[int]) -> PaperExchange:
    config = paper_config(
        perps={"funding": True, "funding_interval_s": INTERVAL_S, "funding_rate": "0.01"}
    )
    return PaperExchange(config, home, clock=lambda: clock[0])


def test_a_crash_after_settling_funding_never_loses_the_payment(tmp_path: Path) -> None:
    """`Perps.settle_due` commits the funding ledger (its own transaction) and credits the
    balances in memory; the balances reach disk only at the owner's next `commit()`. A kill -9
    in between (simulated: the process ends before that commit) leaves a payment in
    `/wapi/v1/history/funding` and `cumulativeFundingPayment` that the balance never got, and
    the restarted exchange never pays that interval again (it is in the ledger).

    Expected: after a restart, the quote balance and the funding ledger agree (the payment is
    in both or in neither). At fault: perp_service.settle_due / perp_ledger.record - write the
    ledger rows in the same transaction as the balances (Store.apply)."""
    home = tmp_path / "home"
    clock = [INTERVAL_S * 1000 * 1000 + 1]  # just after an interval end
    ex = exchange(home, clock)
    engine = ex.engine
    ex.run(lambda now: engine.place(PUBLIC, OrderInput(PERP, "Bid", "Market", D("10")), now))
    before = engine.balance(PUBLIC, "USDC").available
    clock[0] += INTERVAL_S * 1000  # the next interval has ended
    assert ex.perps.settle_due(clock[0])
    paid = engine.balance(PUBLIC, "USDC").available - before
    assert paid < 0  # the long paid funding (in memory)
    ex.store.close()  # the process dies before PaperExchange.commit()

    restarted = exchange(home, clock)
    try:
        restarted.perps.settle_due(clock[0])
        restarted.commit()
        payments, _ = restarted.perps.ledger.payments(PUBLIC, PERP, 10, 0, ascending=True)
        booked = sum((p.quantity for p in payments), D(0))
        balance = restarted.engine.balance(PUBLIC, "USDC").available
        assert balance == before + booked, (balance, before, booked)
    finally:
        restarted.store.close()
