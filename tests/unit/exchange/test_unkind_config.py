"""The realistic profile switch and the rate limiter's sliding window (pure, clock passed in)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gridkeeper.config.paper_exchange import PaperExchangeConfig
from gridkeeper.exchange.paper.ratelimit import SlidingWindow


def _config(**extra: Any) -> PaperExchangeConfig:
    data: dict[str, Any] = {
        "markets": [
            {"symbol": "SOL_USDC", "base_symbol": "SOL", "market_type": "SPOT",
             "initial_price": "150"},
        ],
        "accounts": [{"name": "a"}],
        **extra,
    }  # fmt: skip
    return PaperExchangeConfig.model_validate(data)


def test_everything_is_off_by_default() -> None:
    unkind = _config().unkind
    assert not unkind.liquidity.enabled and not unkind.rate_limit.enabled
    assert (unkind.cancel_delay_ms, unkind.history_delay_ms) == (0, 0)
    assert not unkind.self_trade_prevention and not unkind.reduce_only_modify


def test_realistic_turns_all_on_and_explicit_keys_win() -> None:
    unkind = _config(profile="realistic").unkind
    assert unkind.liquidity.enabled and unkind.rate_limit.enabled
    assert unkind.cancel_delay_ms > 0 and unkind.history_delay_ms > 0
    assert unkind.self_trade_prevention and unkind.reduce_only_modify
    tuned = _config(
        profile="realistic",
        unkind={"rate_limit": {"enabled": False}, "liquidity": {"depth_per_level": "3"}},
    ).unkind
    assert not tuned.rate_limit.enabled and tuned.rate_limit.requests == 2000
    assert tuned.liquidity.enabled and tuned.liquidity.depth_per_level == Decimal(3)


def test_sliding_window_refuses_over_budget_and_says_how_long_to_wait() -> None:
    now = [100.0]
    limiter = SlidingWindow(2, 10.0, clock=lambda: now[0])
    assert limiter.hit("k") is None
    now[0] = 104.0
    assert limiter.hit("k") is None
    assert limiter.hit("k") == 6.0  # the first request leaves the window at 110
    assert limiter.hit("other") is None  # per key
    now[0] = 110.0
    assert limiter.hit("k") is None
