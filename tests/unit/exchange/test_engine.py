"""Deterministic matching rules of the pure engine: fills, fees, post-only, reduce-only, PnL."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from gridkeeper.exchange.paper.book import MarketSpec
from gridkeeper.exchange.paper.engine import Engine, EngineReject, OrderInput

ACCT = "acct"


def _spec(symbol: str, market_type: str) -> MarketSpec:
    return MarketSpec(
        symbol=symbol,
        base="SOL",
        quote="USDC",
        market_type="PERP" if market_type == "PERP" else "SPOT",
        tick_size=D("0.01"),
        step_size=D("0.01"),
        min_quantity=D("0.01"),
        max_quantity=None,
        maker_fee=D("0.0002"),
        taker_fee=D("0.0005"),
        min_multiplier=D("0.5"),
        max_multiplier=D("1.5"),
        initial_margin=D("0.1"),
    )


@pytest.fixture
def engine() -> Engine:
    eng = Engine(
        [_spec("SOL_USDC", "SPOT"), _spec("SOL_USDC_PERP", "PERP")], market_slippage=D("0.001")
    )
    eng.ensure_account(ACCT, {"USDC": D("10000"), "SOL": D("100")})
    eng.set_price("SOL_USDC", D("150"), 0)
    eng.set_price("SOL_USDC_PERP", D("150"), 0)
    eng.drain()
    return eng


def _limit(symbol: str, side: str, price: str, qty: str, **kw: object) -> OrderInput:
    return OrderInput(
        symbol=symbol, side=side, order_type="Limit", price=D(price), quantity=D(qty), **kw
    )  # type: ignore[arg-type]


def test_resting_bid_locks_quote_and_fills_as_maker_when_price_trades_through(
    engine: Engine,
) -> None:
    """A bid below the price rests with quote held; a touch does not fill, trading through does."""
    order = engine.place(ACCT, _limit("SOL_USDC", "Bid", "149", "2"), 1)
    assert order.status == "New"
    usdc = engine.balance(ACCT, "USDC")
    assert (usdc.available, usdc.locked) == (D("9702"), D("298"))
    assert engine.set_price("SOL_USDC", D("149.00"), 2) == 0
    assert engine.set_price("SOL_USDC", D("148.99"), 3) == 1
    changes = engine.drain()
    assert order.status == "Filled" and order.executed_quantity == D("2")
    [fill] = changes.fills
    assert (fill.price, fill.is_maker, fill.fee, fill.fee_symbol) == (
        D("149"),
        True,
        D("0.0004"),
        "SOL",
    )
    assert engine.balance(ACCT, "SOL").available == D("101.9996")
    assert usdc.locked == 0 and usdc.available == D("9702")
    assert [e[0] for e in changes.events] == ["orderAccepted", "orderFill"]


def test_marketable_limit_fills_at_current_price_and_refunds(engine: Engine) -> None:
    """A crossing limit bid takes at the current price, pays taker fee, unlocks the difference."""
    order = engine.place(ACCT, _limit("SOL_USDC", "Bid", "160", "1"), 1)
    assert order.status == "Filled"
    assert engine.balance(ACCT, "USDC").available == D("9850")
    assert engine.balance(ACCT, "SOL").available == D("100.9995")


def test_post_only_that_would_cross_is_rejected(engine: Engine) -> None:
    """Post-only crossing the price is refused with PostOnlyTaker and locks nothing."""
    with pytest.raises(EngineReject) as info:
        engine.place(ACCT, _limit("SOL_USDC", "Ask", "149", "1", post_only=True), 1)
    assert info.value.code == "INVALID_ORDER" and "PostOnlyTaker" in info.value.message
    assert engine.balance(ACCT, "SOL").locked == 0


def test_market_order_slippage_and_insufficient_funds(engine: Engine) -> None:
    """Market sells fill below the price by the slippage; selling more than held is refused."""
    order = engine.place(ACCT, OrderInput("SOL_USDC", "Ask", "Market", D("10")), 1)
    assert order.executed_quote_quantity == D("1498.50")  # 149.85 * 10
    with pytest.raises(EngineReject) as info:
        engine.place(ACCT, OrderInput("SOL_USDC", "Ask", "Market", D("1000")), 2)
    assert info.value.code == "INSUFFICIENT_FUNDS"


def test_validation_of_step_tick_band(engine: Engine) -> None:
    """Quantities off the step, prices off the tick or outside the band are refused."""
    for req, code in [
        (_limit("SOL_USDC", "Bid", "140", "0.001"), "INVALID_QUANTITY"),
        (_limit("SOL_USDC", "Bid", "140.001", "1"), "INVALID_PRICE"),
        (_limit("SOL_USDC", "Bid", "10", "1"), "INVALID_PRICE"),
        (_limit("NOPE", "Bid", "10", "1"), "INVALID_SYMBOL"),
    ]:
        with pytest.raises(EngineReject) as info:
            engine.place(ACCT, req, 1)
        assert info.value.code == code


def test_cancel_releases_lock_and_cancel_twice_is_not_found(engine: Engine) -> None:
    """Cancelling returns the lock; a second cancel of the same order is RESOURCE_NOT_FOUND."""
    order = engine.place(ACCT, _limit("SOL_USDC", "Ask", "151", "3", client_id=7), 1)
    assert engine.balance(ACCT, "SOL").locked == D("3")
    cancelled = engine.cancel(ACCT, "SOL_USDC", None, 7, 2)
    assert cancelled.id == order.id and cancelled.status == "Cancelled"
    assert engine.balance(ACCT, "SOL").locked == 0
    with pytest.raises(EngineReject) as info:
        engine.cancel(ACCT, "SOL_USDC", order.id, None, 3)
    assert info.value.status == 404
    assert engine.set_price("SOL_USDC", D("152"), 4) == 0


def test_perp_position_partial_close_flip_and_pnl(engine: Engine) -> None:
    """One-way netting: entry averaging, realized PnL on partial close, flip re-bases the entry."""
    perp = "SOL_USDC_PERP"
    engine.place(ACCT, OrderInput(perp, "Bid", "Limit", D("2"), price=D("150")), 1)  # taker @150
    engine.set_price(perp, D("160"), 2)
    engine.place(ACCT, OrderInput(perp, "Bid", "Limit", D("2"), price=D("160")), 3)  # taker @160
    pos = engine.positions[(ACCT, perp)]
    assert (pos.net_quantity, pos.entry_price) == (D("4"), D("155"))
    assert pos.unrealized(D("160")) == D("20")
    engine.place(
        ACCT, OrderInput(perp, "Ask", "Limit", D("1"), price=D("160"), reduce_only=True), 4
    )
    assert pos.net_quantity == D("3") and pos.realized_pnl == D("5")
    engine.place(ACCT, OrderInput(perp, "Ask", "Limit", D("5"), price=D("160")), 5)
    assert pos.net_quantity == D("-2") and pos.entry_price == D("160")
    assert pos.realized_pnl == D("20")
    fees = D("0.15") + D("0.16") + D("0.08") + D("0.40")
    assert engine.balance(ACCT, "USDC").available == D("10000") + D("20") - fees


def test_reduce_only_enforced(engine: Engine) -> None:
    """Reduce-only needs an opposite position; a resting one expires if the position is gone."""
    perp = "SOL_USDC_PERP"
    with pytest.raises(EngineReject, match="ReduceOnlyNotReduced"):
        engine.place(
            ACCT, OrderInput(perp, "Ask", "Limit", D("1"), price=D("151"), reduce_only=True), 1
        )
    engine.place(ACCT, OrderInput(perp, "Bid", "Market", D("1")), 2)
    close = engine.place(
        ACCT, OrderInput(perp, "Ask", "Limit", D("1"), price=D("155"), reduce_only=True), 3
    )
    assert close.status == "New"
    engine.place(ACCT, OrderInput(perp, "Ask", "Market", D("1")), 4)  # flat again
    engine.set_price(perp, D("156"), 5)
    assert close.status == "Expired" and close.expiry_reason == "ReduceOnlyNotReduced"
    assert engine.positions[(ACCT, perp)].net_quantity == 0


def test_perp_margin_is_checked(engine: Engine) -> None:
    """A perp order whose margin exceeds equity is refused with INSUFFICIENT_MARGIN."""
    with pytest.raises(EngineReject) as info:
        engine.place(
            ACCT, OrderInput("SOL_USDC_PERP", "Bid", "Limit", D("2000"), price=D("149")), 1
        )
    assert info.value.code == "INSUFFICIENT_MARGIN"


def test_ioc_that_does_not_cross_expires(engine: Engine) -> None:
    """An IOC limit that cannot fill now expires and releases its lock."""
    order = engine.place(ACCT, _limit("SOL_USDC", "Bid", "140", "1", time_in_force="IOC"), 1)
    assert order.status == "Expired" and order.expiry_reason == "ImmediateOrCancel"
    assert engine.balance(ACCT, "USDC").locked == 0
