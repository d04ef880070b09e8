"""Acceptance: ccxt's own `backpack` class, unchanged, trades on the paper exchange.

Only its URLs are pointed at a real paper exchange on 127.0.0.1; nothing is patched. This is what
"any Backpack client works unchanged" means in practice: ccxt calls `/api/v1/assets`,
`/api/v1/securities` and `/api/v1/markets` on load, signs with its own ED25519 code, sends
prices as strings and parses every answer with its own parsers.
"""

from __future__ import annotations

from decimal import Decimal as D

import ccxt
import pytest

from .conftest import PUBLIC, SECRET, Paper

pytestmark = pytest.mark.integration

SPOT = "SOL/USDC"
PERP = "SOL/USDC:USDC"


def _ccxt(paper: Paper, secret: str = SECRET) -> ccxt.backpack:
    return ccxt.backpack(
        {
            "apiKey": PUBLIC,
            "secret": secret,
            "urls": {"api": {"public": paper.base_url, "private": paper.base_url}},
            "timeout": 10_000,
        }
    )


def test_market_data(paper: Paper) -> None:
    """load_markets, tickers, order book (limit honoured), OHLCV: spot and perp."""
    ex = _ccxt(paper)
    markets = ex.load_markets()
    assert markets[SPOT]["spot"] and markets[SPOT]["precision"]["price"] == 0.01
    assert markets[PERP]["swap"] and markets[PERP]["settle"] == "USDC"
    assert {"SOL", "USDC"} <= set(ex.currencies)
    paper.set_price("SOL_USDC", "151")
    for symbol in (SPOT, PERP):
        ticker = ex.fetch_ticker(symbol)
        assert ticker["symbol"] == symbol and ticker["last"] > 0
    assert ex.fetch_ticker(SPOT)["last"] == 151.0
    tickers = ex.fetch_tickers()
    assert {SPOT, PERP} <= set(tickers)
    book = ex.fetch_order_book(SPOT, limit=5)
    assert len(book["bids"]) == 5 and len(book["asks"]) == 5
    assert book["bids"][0][0] < 151.0 < book["asks"][0][0]
    candles = ex.fetch_ohlcv(SPOT, "1m")
    assert candles and candles[-1][4] == 151.0


def test_spot_orders_and_balance(paper: Paper) -> None:
    """Limit, post-only and market orders; open orders, fetch, cancel, cancel-all, my trades."""
    ex = _ccxt(paper)
    ex.load_markets()
    balance = ex.fetch_balance()
    assert balance["USDC"]["free"] == 10000.0 and balance["SOL"]["free"] == 100.0

    limit = ex.create_order(SPOT, "limit", "buy", 1, 140, {"clientOrderId": 7})
    assert limit["status"] == "open" and limit["price"] == 140.0 and limit["clientOrderId"] == "7"
    post = ex.create_order(SPOT, "limit", "sell", 1, 160, {"postOnly": True})
    assert post["postOnly"] is True and post["status"] == "open"
    with pytest.raises(ccxt.InvalidOrder):
        ex.create_order(SPOT, "limit", "buy", 1, 151, {"postOnly": True})  # would take

    open_ids = {o["id"] for o in ex.fetch_open_orders(SPOT)}
    assert open_ids == {limit["id"], post["id"]}
    assert ex.fetch_order(limit["id"], SPOT)["status"] == "open"
    cancelled = ex.cancel_order(limit["id"], SPOT)
    assert cancelled["status"] == "canceled"
    assert ex.fetch_order(limit["id"], SPOT)["status"] == "canceled"

    market = ex.create_order(SPOT, "market", "buy", 2)
    assert market["status"] == "closed" and market["filled"] == 2.0
    trades = ex.fetch_my_trades(SPOT)
    assert [t["order"] for t in trades] == [market["id"]]
    assert trades[0]["amount"] == 2.0 and trades[0]["side"] == "buy"
    assert ex.fetch_balance()["SOL"]["free"] > 100.0

    ex.create_order(SPOT, "limit", "buy", 1, 145)
    assert len(ex.cancel_all_orders(SPOT)) == 2  # the post-only ask and this bid
    assert ex.fetch_open_orders(SPOT) == []


def test_perp_orders_and_positions(paper: Paper) -> None:
    """A perp long through ccxt, a reduce-only close, and fetch_positions in between."""
    ex = _ccxt(paper)
    ex.load_markets()
    opened = ex.create_order(PERP, "market", "buy", 3)
    assert opened["status"] == "closed"
    positions = ex.fetch_positions()
    assert len(positions) == 1
    # ccxt's parse_position passes some numbers through as strings: compare as decimals.
    assert positions[0]["symbol"] == PERP and D(str(positions[0]["contracts"])) == 3
    assert positions[0]["side"] == "long"
    paper.set_price("SOL_USDC_PERP", "152.37")
    (position,) = ex.fetch_positions([PERP])
    entry = D(str(position["entryPrice"]))
    assert D("150") < entry < D("151")  # the market buy paid the configured slippage
    assert D(str(position["unrealizedPnl"])) == 3 * (D("152.37") - entry)
    with pytest.raises(ccxt.InvalidOrder):  # reduce-only can't grow the long
        ex.create_order(PERP, "market", "buy", 1, None, {"reduceOnly": True})
    resting = ex.create_order(PERP, "limit", "sell", 1, 155, {"reduceOnly": True})
    assert resting["reduceOnly"] is True and resting["status"] == "open"
    closed = ex.create_order(PERP, "market", "sell", 2, None, {"reduceOnly": True})
    assert closed["status"] == "closed"
    (position,) = ex.fetch_positions([PERP])
    assert D(str(position["contracts"])) == 1
    assert {t["order"] for t in ex.fetch_my_trades(PERP)} == {opened["id"], closed["id"]}
    assert [o["id"] for o in ex.cancel_all_orders(PERP)] == [resting["id"]]
    funding = ex.fetch_funding_rate(PERP)
    assert funding["symbol"] == PERP
    assert D(str(funding["markPrice"])) == D("152.37")  # no basis configured: mark = last
    assert funding["fundingRate"] is not None
    assert funding["fundingTimestamp"] or funding["nextFundingTimestamp"]


def test_wrong_secret_is_an_authentication_error(paper: Paper) -> None:
    from gridkeeper.exchange import signing

    other_secret, _ = signing.keygen()
    ex = _ccxt(paper, secret=other_secret)
    ex.load_markets()  # public: works without a valid key
    with pytest.raises(ccxt.AuthenticationError):
        ex.fetch_balance()
