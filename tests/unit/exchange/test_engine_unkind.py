"""The unkind behaviours of the pure engine: book model, partial fills, delayed cancels,
self-trade prevention, reduce-only shrink, price band. Clock passed in as plain integers."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from gridkeeper.exchange.paper.book import MarketSpec
from gridkeeper.exchange.paper.engine import Engine, EngineReject, OrderInput
from gridkeeper.exchange.paper.liquidity import LiquidityModel, best_bid_ask, book_levels
from gridkeeper.exchange.paper.serialize import market_json, order_update_json

ACCT, OTHER = "acct", "other"
MODEL = LiquidityModel(
    half_spread_ticks=2, levels=3, level_ticks=1, depth_per_level=D("1"),
    trade_volume_per_level=D("0.5"),
)  # fmt: skip


def _spec(symbol: str, market_type: str = "SPOT") -> MarketSpec:
    return MarketSpec(
        symbol=symbol, base="SOL", quote="USDC",
        market_type="PERP" if market_type == "PERP" else "SPOT",
        tick_size=D("0.01"), step_size=D("0.01"), min_quantity=D("0.01"), max_quantity=None,
        maker_fee=D("0"), taker_fee=D("0"), min_multiplier=D("0.9"), max_multiplier=D("1.1"),
        initial_margin=D("0.1"),
    )  # fmt: skip


def _engine(**kw: object) -> Engine:
    eng = Engine([_spec("SOL_USDC"), _spec("SOL_USDC_PERP", "PERP")], **kw)  # type: ignore[arg-type]
    for acct in (ACCT, OTHER):
        eng.ensure_account(acct, {"USDC": D("100000"), "SOL": D("100")})
    eng.set_price("SOL_USDC", D("100"), 0)
    eng.set_price("SOL_USDC_PERP", D("100"), 0)
    eng.drain()
    return eng


def _limit(side: str, price: str, qty: str, symbol: str = "SOL_USDC", **kw: object) -> OrderInput:
    return OrderInput(symbol, side, "Limit", D(qty), price=D(price), **kw)  # type: ignore[arg-type]


def _market(side: str, qty: str, **kw: object) -> OrderInput:
    return OrderInput("SOL_USDC", side, "Market", D(qty), **kw)  # type: ignore[arg-type]


def test_book_levels_spread_and_depth_best_first() -> None:
    spec = _spec("SOL_USDC")
    assert best_bid_ask(spec, D("100"), MODEL) == (D("99.98"), D("100.02"))
    bids, asks = book_levels(spec, D("100"), MODEL, 2)
    assert bids == [(D("99.98"), D("1")), (D("99.97"), D("1"))]
    assert asks == [(D("100.02"), D("1")), (D("100.03"), D("1"))]
    wide = LiquidityModel(half_spread_ticks=1, half_spread_bps=D("10"))  # 10 bps of 100 = 0.1
    assert best_bid_ask(spec, D("100"), wide) == (D("99.90"), D("100.10"))
    kind_bids, kind_asks = book_levels(spec, D("100"), None, 3)
    assert kind_bids[0] == (D("99.99"), D("10")) and len(kind_asks) == 3
    # what takers consumed is missing from the book until the price moves
    bids, asks = book_levels(spec, D("100"), MODEL, None, taken={D("100.02"): D("1")})
    assert asks[0] == (D("100.03"), D("1")) and len(asks) == 2


def test_market_order_walks_the_book_and_the_rest_expires() -> None:
    eng = _engine(liquidity=MODEL)
    order = eng.place(ACCT, _market("Bid", "2.5"), 1)
    changes = eng.drain()
    assert [(f.price, f.quantity) for f in changes.fills] == [
        (D("100.02"), D("1")), (D("100.03"), D("1")), (D("100.04"), D("0.5")),
    ]  # fmt: skip
    assert order.executed_quantity == D("2.5") and order.status == "Filled"
    # spot: exactly the cost of the fills was spent, nothing stays locked
    usdc = eng.balance(ACCT, "USDC")
    assert usdc.locked == 0 and usdc.available == D("100000") - D("250.07")
    # the book is now thin: a second market order gets only what is left, the rest expires
    second = eng.place(ACCT, _market("Bid", "1"), 2)
    assert second.executed_quantity == D("0.5") and second.status == "Expired"
    assert second.expiry_reason == "InsufficientLiquidity"
    # a price move regenerates the book
    eng.set_price("SOL_USDC", D("100.01"), 3)
    assert eng.place(ACCT, _market("Bid", "1"), 4).status == "Filled"


def test_ioc_limit_fills_what_the_book_has_to_its_price_then_expires() -> None:
    eng = _engine(liquidity=MODEL)
    order = eng.place(ACCT, _limit("Ask", "99.97", "5", time_in_force="IOC"), 1)
    assert order.executed_quantity == D("2") and order.status == "Expired"
    assert order.expiry_reason == "ImmediateOrCancel"
    fok = eng.place(ACCT, _limit("Ask", "99.90", "5", time_in_force="FOK"), 2)
    assert fok.executed_quantity == 0 and fok.expiry_reason == "FillOrKill"


def test_gtc_limit_takes_the_book_and_rests_the_rest() -> None:
    eng = _engine(liquidity=MODEL)
    order = eng.place(ACCT, _limit("Bid", "100.03", "3"), 1)
    assert order.executed_quantity == D("2") and order.status == "PartiallyFilled"
    assert eng.open_orders(ACCT) == [order]


def test_limit_inside_the_spread_rests_and_post_only_is_judged_against_the_book() -> None:
    eng = _engine(liquidity=MODEL)
    # 100.01 is above the last price but below the best ask (100.02): it rests
    inside = eng.place(ACCT, _limit("Bid", "100.01", "1", post_only=True), 1)
    assert inside.status == "New"
    with pytest.raises(EngineReject, match="PostOnlyTaker"):
        eng.place(ACCT, _limit("Bid", "100.02", "1", post_only=True), 2)
    # without the model the same post-only bid above the last price is refused
    kind = _engine()
    with pytest.raises(EngineReject, match="PostOnlyTaker"):
        kind.place(ACCT, _limit("Bid", "100.01", "1", post_only=True), 1)


def test_resting_orders_fill_partially_when_the_traded_volume_is_short() -> None:
    eng = _engine(liquidity=MODEL)
    first = eng.place(ACCT, _limit("Bid", "99.50", "0.4"), 1)
    second = eng.place(OTHER, _limit("Bid", "99.50", "0.4"), 2)
    eng.drain()
    assert eng.set_price("SOL_USDC", D("99.49"), 3) == 2
    changes = eng.drain()
    # 0.5 traded at the level: FIFO, the first fills in full, the second gets the remaining 0.1
    assert [(f.order_id, f.quantity) for f in changes.fills] == [
        (first.id, D("0.4")), (second.id, D("0.1")),
    ]  # fmt: skip
    assert second.status == "PartiallyFilled"
    assert [e[0] for e in changes.events] == ["orderFill", "orderFill"]
    # the next update still through the level brings more volume
    assert eng.set_price("SOL_USDC", D("99.40"), 4) == 1
    assert second.status == "Filled" and eng.open_orders(OTHER) == []


def test_cancel_with_delay_stays_fillable_until_due() -> None:
    eng = _engine(cancel_delay_ms=200)
    order = eng.place(ACCT, _limit("Ask", "101", "1"), 1)
    assert eng.request_cancel(ACCT, "SOL_USDC", order.id, None, 10) is None
    assert order.is_open and eng.complete_due(209) == []
    eng.set_price("SOL_USDC", D("101.01"), 100)  # trades through while the cancel is pending
    assert order.status == "Filled"
    assert eng.complete_due(210) == [] and not eng.pending_cancels
    other = eng.place(ACCT, _limit("Ask", "102", "1", client_id=7), 300)
    assert eng.request_cancel(ACCT, "SOL_USDC", None, 7, 301) is None
    assert eng.complete_due(500) == [] and other.is_open
    assert [o.id for o in eng.complete_due(501)] == [other.id] and other.status == "Cancelled"
    with pytest.raises(EngineReject, match="not found"):
        eng.request_cancel(ACCT, "SOL_USDC", other.id, None, 502)
    # without a delay a cancel is done at once
    kind = _engine()
    resting = kind.place(ACCT, _limit("Ask", "102", "1"), 1)
    done = kind.request_cancel(ACCT, "SOL_USDC", resting.id, None, 2)
    assert done is resting and resting.status == "Cancelled"


@pytest.mark.parametrize(
    ("mode", "taker_status", "maker_open"),
    [("RejectTaker", "Expired", True), ("RejectMaker", "Filled", False),
     ("RejectBoth", "Expired", False)],
)  # fmt: skip
def test_self_trade_prevention_modes(mode: str, taker_status: str, maker_open: bool) -> None:
    eng = _engine(liquidity=MODEL, self_trade_prevention=True)
    maker = eng.place(ACCT, _limit("Ask", "100.03", "1"), 1)  # rests inside the model's asks
    taker = eng.place(ACCT, _limit("Bid", "100.05", "2", self_trade_prevention=mode), 2)
    changes = eng.drain()
    assert taker.status == taker_status
    assert maker.is_open is maker_open
    if mode != "RejectMaker":
        # only the level strictly better than its own ask filled
        assert taker.executed_quantity == D("1") and taker.expiry_reason == "SelfTradePrevention"
    if not maker_open:
        assert maker.expiry_reason == "SelfTradePrevention"
    assert not any(f.order_id == maker.id for f in changes.fills)
    # another account's order in reach does not trigger it
    eng.set_price("SOL_USDC", D("100"), 3)
    eng.place(OTHER, _limit("Ask", "100.02", "1"), 4)
    assert eng.place(ACCT, _limit("Bid", "100.02", "0.5"), 5).status == "Filled"


def test_self_trade_prevention_off_keeps_todays_behaviour() -> None:
    eng = _engine(liquidity=MODEL)
    maker = eng.place(ACCT, _limit("Ask", "100.03", "1"), 1)
    taker = eng.place(ACCT, _limit("Bid", "100.05", "2"), 2)
    assert maker.is_open and taker.status == "Filled"


def test_reduce_only_order_shrinks_with_the_position_as_order_modified() -> None:
    eng = _engine(reduce_only_modify=True)
    perp = "SOL_USDC_PERP"
    eng.place(ACCT, OrderInput(perp, "Bid", "Market", D("2")), 1)
    close = eng.place(ACCT, _limit("Ask", "105", "2", symbol=perp, reduce_only=True), 2)
    eng.place(ACCT, OrderInput(perp, "Ask", "Market", D("1.5")), 3)  # position 2 -> 0.5
    changes = eng.drain()
    modified = [e for e in changes.events if e[0] == "orderModified"]
    assert len(modified) == 1 and modified[0][1].quantity == D("0.5")
    assert close.quantity == D("0.5") and close.is_open
    payload = order_update_json("orderModified", modified[0][1], None)
    assert payload["e"] == "orderModified" and payload["q"] == "0.5"
    eng.place(ACCT, OrderInput(perp, "Ask", "Market", D("0.5")), 4)  # flat: the close expires
    assert close.status == "Expired" and close.expiry_reason == "ReduceOnlyNotReduced"
    expired = [e for e in eng.drain().events if e[0] == "orderExpired"]
    assert order_update_json(*expired[-1][:2], None)["R"] == "ReduceOnlyNotReduced"


def test_price_band_is_around_the_last_price_and_exposed_in_markets_json() -> None:
    eng = _engine(liquidity=MODEL)
    eng.set_price("SOL_USDC", D("200"), 1)  # the band follows the last traded price
    with pytest.raises(EngineReject, match="PriceOutOfBounds") as exc:
        eng.place(ACCT, _limit("Bid", "179.99", "1"), 2)  # below 0.9 x 200
    assert exc.value.code == "INVALID_PRICE"
    with pytest.raises(EngineReject, match="PriceOutOfBounds"):
        eng.place(ACCT, _limit("Ask", "220.01", "1"), 3)  # above 1.1 x 200
    assert eng.place(ACCT, _limit("Bid", "180", "1"), 4).status == "New"
    price_filter = market_json(eng.market("SOL_USDC"))["filters"]["price"]
    assert (price_filter["minMultiplier"], price_filter["maxMultiplier"]) == ("0.9", "1.1")
