"""Issue 9 (defects 5, 7, 8): the pure parts of position checks, funding, bands and endpoints."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from gridkeeper.bot.adopt import adopt_position
from gridkeeper.bot.checks import market_warnings
from gridkeeper.bot.core import REJECT_BACKOFF_MAX_MS, REJECT_BACKOFF_MS
from gridkeeper.bot.reconcile import apply_funding, position_gap
from gridkeeper.bot.state import state_from_dict, state_to_dict
from gridkeeper.bot.strategy import GridStrategy, Place
from gridkeeper.config.exchange import ExchangeConfig, endpoint_warnings
from gridkeeper.config.instance import InstanceFile
from gridkeeper.exchange.models import FundingPayment, Market

from .sim import PERP, config

BANDED = PERP.__class__(**{**PERP.__dict__, "band_min": D("0.95"), "band_max": D("1.05")})


def test_position_gap_perp_is_any_difference_spot_only_a_shortfall() -> None:
    assert position_gap(D("2.5"), D("3.5"), spot=False) == D(1)
    assert position_gap(D("2.5"), D("1.5"), spot=False) == D(-1)
    assert position_gap(D("5"), D("100"), spot=True) == 0  # the account's own SOL
    assert position_gap(D("5"), D("4"), spot=True) == D(-1)  # sold under the grid's feet


def test_funding_is_booked_once_into_cash_and_total_pnl() -> None:
    strategy = GridStrategy.fresh("f", config(), PERP, D("100.5"))
    st = strategy.state
    older = FundingPayment.from_api(
        {
            "userId": 1,
            "symbol": PERP.symbol,
            "quantity": "-9",
            "intervalEndTimestamp": "2026-01-01T00:00:00",
            "fundingRate": "0.0001",
        }
    )
    # Not started: the first read only sets the checkpoint (the payment predates the grid).
    assert apply_funding(st, [older], PERP.symbol) == []
    assert st.funding_checkpoint_ms == older.interval_end_ms and st.cash == 0
    newer = FundingPayment(PERP.symbol, D("-1.25"), older.interval_end_ms + 3_600_000, D(0))
    other = FundingPayment("BTC_USDC_PERP", D("-7"), newer.interval_end_ms, D(0))
    before = st.total_pnl()
    assert apply_funding(st, [newer, older, other], PERP.symbol) == [newer]
    assert apply_funding(st, [newer, older], PERP.symbol) == []  # dedupe
    assert st.funding == D("-1.25") and st.total_pnl() == before - D("1.25")
    restored = state_from_dict(state_to_dict(st))
    assert restored.funding == D("-1.25")
    assert restored.funding_checkpoint_ms == newer.interval_end_ms


def test_adopt_books_the_difference_at_the_mark_and_resumes() -> None:
    strategy = GridStrategy.fresh("a", config(), PERP, D("100.5"))
    st = strategy.state
    st.status, st.reason = "paused", "position_mismatch: the grid holds 0, ..."
    before = st.total_pnl(D(101))
    adopt_position(strategy, D(3), D(101))
    assert st.position == 3
    assert st.total_pnl(D(101)) == before  # no jump at the mark
    assert st.status == "running" and st.reason is None
    assert any(e.kind == "position_adopted" for e in strategy.drain_events())


def test_levels_outside_the_price_band_wait() -> None:
    strategy = GridStrategy.fresh("b", config(), BANDED, D("100"))
    prices = sorted(
        a.order.price for a in strategy.plan(0) if isinstance(a, Place) and a.order.price
    )
    # Band at 100: 95 - 105. Buys 90..94 and sells 106..110 would be refused: not sent.
    assert prices == [D(96), D(98), D(102), D(104)]
    assert strategy.outside_band(D(94)) and not strategy.outside_band(D(96))


def test_rejections_back_off_exponentially_per_slot_and_reset_on_success() -> None:
    strategy = GridStrategy.fresh("r", config(), PERP, D("100.5"))
    waits = []
    now = 0
    for _ in range(10):
        place = next(a for a in strategy.plan(now) if isinstance(a, Place) and a.order.slot == 4)
        strategy.on_rejected(place.order.client_id, "INVALID_PRICE", "out of band", now)
        slot = strategy.state.slots[4]
        waits.append(slot.retry_after_ms - now)
        now = slot.retry_after_ms
    assert waits[:4] == [REJECT_BACKOFF_MS * k for k in (1, 2, 4, 8)]
    assert waits[-1] == REJECT_BACKOFF_MAX_MS
    place = next(a for a in strategy.plan(now) if isinstance(a, Place) and a.order.slot == 4)
    strategy.on_placed(place.order.client_id, "o1", "New", D(0))
    assert strategy.state.slots[4].rejects == 0


def _market(**over: object) -> Market:
    data: dict[str, object] = {
        "symbol": "SOL_USDC",
        "base_symbol": "SOL",
        "quote_symbol": "USDC",
        "market_type": "SPOT",
        "tick_size": D("0.01"),
        "step_size": D("0.01"),
        "min_quantity": D("0.01"),
        "maker_fee": D(0),
        "taker_fee": D(0),
        "min_multiplier": D("0.95"),
        "max_multiplier": D("1.05"),
    }
    data.update(over)
    return Market(**data)  # type: ignore[arg-type]


def test_market_from_api_keeps_the_band() -> None:
    market = Market.from_api(
        {
            "symbol": "SOL_USDC",
            "baseSymbol": "SOL",
            "quoteSymbol": "USDC",
            "marketType": "SPOT",
            "filters": {
                "price": {"tickSize": "0.01", "minMultiplier": "0.8", "maxMultiplier": "1.2"},
                "quantity": {"stepSize": "0.01", "minQuantity": "0.01"},
            },
        },
        maker_fee=D(0),
        taker_fee=D(0),
    )
    assert (market.min_multiplier, market.max_multiplier) == (D("0.8"), D("1.2"))
    assert market.band(D(100)) == (D(80), D(120))


def test_market_warnings_band_and_step() -> None:
    found = market_warnings(config(order_quantity=D("1.005")), _market(), D(100))
    assert len(found) == 2
    assert "price band" in found[0] and "grid_lower_price 90 is below" in found[0]
    assert "rounded down to 1.00" in found[1]
    (upper_only,) = market_warnings(config(), _market(min_multiplier=D("0.5")), D(100))
    assert "grid_upper_price 110 is above" in upper_only and "grid_lower_price" not in upper_only
    assert (
        market_warnings(config(), _market(min_multiplier=D("0.5"), max_multiplier=D(2)), D(100))
        == []
    )


GRID = {"grid_lower_price": 90, "grid_upper_price": 110, "order_quantity": 1}


@pytest.mark.parametrize(
    ("exchange", "section", "base", "ws"),
    [
        ("backpack", None, "https://api.backpack.exchange", "wss://ws.backpack.exchange"),
        (
            "backpack",
            {"base_url": "https://api.backpack.exchange"},
            "https://api.backpack.exchange",
            "wss://ws.backpack.exchange",
        ),
        ("paper", None, "http://127.0.0.1:8686", "ws://127.0.0.1:8686/ws"),
    ],
)
def test_endpoints_default_by_exchange(
    exchange: str, section: dict[str, str] | None, base: str, ws: str
) -> None:
    data: dict[str, object] = {
        "metadata": {"exchange": exchange, "symbol": "SOL_USDC", "strategy": "grid"},
        "strategy_config": GRID,
    }
    if section is not None:
        data["exchange_config"] = section
    parsed = InstanceFile.model_validate(data)
    assert parsed.exchange_config is not None
    assert (parsed.exchange_config.base_url, parsed.exchange_config.ws_url) == (base, ws)


def test_backpack_config_on_localhost_is_warned() -> None:
    local = ExchangeConfig(base_url="http://127.0.0.1:8686", ws_url="ws://localhost:8686/ws")
    found = endpoint_warnings("backpack", local)
    assert len(found) == 2 and "this machine" in found[0]
    assert endpoint_warnings("paper", local) == []
    real = ExchangeConfig(
        base_url="https://api.backpack.exchange", ws_url="wss://ws.backpack.exchange"
    )
    assert endpoint_warnings("backpack", real) == []
