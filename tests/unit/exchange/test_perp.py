"""Perpetuals' pure rules: mark price, funding payments, liquidation at maintenance margin."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from gridkeeper.config.paper_exchange import PerpSettings
from gridkeeper.exchange.paper import perp
from gridkeeper.exchange.paper.engine import Engine, OrderInput
from gridkeeper.exchange.paper.serialize import fill_json, order_json, order_update_json

from .test_engine import _spec

ACCT = "acct"
PERP = "SOL_USDC_PERP"


@pytest.fixture
def engine() -> Engine:
    eng = Engine([_spec("SOL_USDC", "SPOT"), _spec(PERP, "PERP")])
    eng.ensure_account(ACCT, {"USDC": D("1000")})
    eng.set_price("SOL_USDC", D("150"), 0)
    eng.set_price(PERP, D("100"), 0)
    eng.drain()
    return eng


def _market(side: str, qty: str) -> OrderInput:
    return OrderInput(symbol=PERP, side=side, order_type="Market", quantity=D(qty))


def test_mark_follows_last_with_basis_and_smoothing(engine: Engine) -> None:
    """Basis offsets the mark; smoothing moves it part of the way; spot marks stay the last."""
    settings = PerpSettings(mark_basis_bps=D("100"), mark_smoothing=D("0.5"))
    assert perp.update_mark(engine, settings, PERP) == D("101")  # first mark: the target
    engine.set_price(PERP, D("200"), 1)
    assert perp.update_mark(engine, settings, PERP) == D("151.5")  # halfway to 202
    assert engine.mark_price(PERP) == D("151.5")
    assert engine.price(PERP) == D("200")
    assert perp.update_mark(engine, settings, "SOL_USDC") is None
    assert engine.mark_price("SOL_USDC") == D("150")


def test_unrealized_pnl_and_equity_use_the_mark(engine: Engine) -> None:
    engine.place(ACCT, _market("Bid", "1"), 1)  # long 1 at 100 (no slippage configured)
    engine.marks[PERP] = D("90")
    pos = engine.positions[(ACCT, PERP)]
    fee = D("0.05")  # taker 5 bps of 100
    assert engine.equity(ACCT) == D("1000") - fee + pos.unrealized(D("90"))
    assert pos.unrealized(D("90")) == D("-10")


def test_funding_debits_longs_credits_shorts_and_accumulates(engine: Engine) -> None:
    engine.ensure_account("short", {"USDC": D("1000")})
    engine.place(ACCT, _market("Bid", "2"), 1)
    engine.place("short", _market("Ask", "1"), 1)
    settings = PerpSettings(funding=True, funding_rate=D("0.001"))
    perp.update_mark(engine, settings, PERP)
    before_long = engine.balance(ACCT, "USDC").available
    before_short = engine.balance("short", "USDC").available
    engine.drain()

    rates, payments = perp.pay_funding(engine, settings, 28_800_000)

    assert [(r.symbol, r.rate) for r in rates] == [(PERP, D("0.001"))]
    paid = {p.account: p.quantity for p in payments}
    assert paid == {ACCT: D("-0.2"), "short": D("0.1")}  # -net x mark x rate
    assert engine.balance(ACCT, "USDC").available == before_long - D("0.2")
    assert engine.balance("short", "USDC").available == before_short + D("0.1")
    assert engine.positions[(ACCT, PERP)].cumulative_funding == D("-0.2")
    assert (ACCT, "USDC") in engine.drain().balances  # the store persists the payment


def test_premium_funding_rate_is_the_marks_premium_clamped() -> None:
    eng = Engine([_spec(PERP, "PERP")])
    eng.set_price(PERP, D("100"), 0)
    settings = PerpSettings(
        funding_rate_model="premium", mark_basis_bps=D("300"), funding_rate_cap=D("0.02")
    )
    perp.update_mark(eng, settings, PERP)
    assert perp.funding_rate(settings, eng, PERP) == D("0.02")  # 3% premium, capped at 2%
    settings = PerpSettings(funding_rate_model="premium", mark_basis_bps=D("-50"))
    eng.marks.clear()
    perp.update_mark(eng, settings, PERP)
    assert perp.funding_rate(settings, eng, PERP) == D("-0.005")


def test_interval_ends_align_to_the_epoch() -> None:
    assert perp.interval_end_ms(0, 8 * 3600) == 28_800_000
    assert perp.interval_end_ms(28_799_999, 8 * 3600) == 28_800_000
    assert perp.interval_end_ms(28_800_000, 8 * 3600) == 57_600_000


def test_liquidation_closes_positions_with_liquidation_origin(engine: Engine) -> None:
    """Equity below maintenance: orders cancelled, position closed by a system market order."""
    settings = PerpSettings(liquidation=True, maintenance_margin=D("0.05"))
    engine.place(ACCT, _market("Bid", "90"), 1)  # 9,000 notional on 1,000: 9x
    resting = engine.place(
        ACCT, OrderInput(PERP, "Bid", "Limit", D("1"), price=D("60")), 1
    )  # a bid the liquidation must cancel
    assert perp.underwater(engine, settings) == []
    engine.drain()

    engine.set_price(PERP, D("90"), 2)  # -900 at mark: equity ~100 < 90 x 90 x 0.05 = 405
    perp.update_mark(engine, settings, PERP)
    assert perp.underwater(engine, settings) == [ACCT]
    placed = perp.liquidate(engine, ACCT, 2)

    assert engine.account_positions(ACCT) == []
    assert resting.status == "Cancelled"
    changes = engine.drain()
    [closer] = [changes.orders[i] for i in placed]
    assert closer.system_order_type == perp.LIQUIDATION and closer.reduce_only
    assert order_json(closer, history=True)["systemOrderType"] == "LiquidatePositionOnBook"
    [fill] = [f for f in changes.fills if f.order_id == closer.id]
    assert fill_json(fill)["systemOrderType"] == "LiquidatePositionOnBook"
    assert (fill.side, fill.quantity) == ("Ask", D("90"))
    origins = {order_update_json(k, o, f)["O"] for k, o, _, f in changes.events}
    assert origins == {"USER", "LIQUIDATION_AUTOCLOSE"}  # the cancel is the user's order
    assert perp.underwater(engine, settings) == []


def test_maintenance_fraction_per_market_or_half_the_initial() -> None:
    spec = _spec(PERP, "PERP")
    assert perp.maintenance_fraction(PerpSettings(), spec) == D("0.05")
    by_symbol = PerpSettings(maintenance_margin_by_symbol={PERP: D("0.02")})
    assert perp.maintenance_fraction(by_symbol, spec) == D("0.02")


def test_open_interest_sums_every_accounts_position(engine: Engine) -> None:
    engine.ensure_account("short", {"USDC": D("1000")})
    engine.place(ACCT, _market("Bid", "2"), 1)
    engine.place("short", _market("Ask", "3"), 1)
    assert perp.open_interest(engine, PERP) == D("5")
