"""R1 review: a perp grid's PnL against the exchange's own equity at the mark price (realistic
profile: the mark carries a basis and is smoothed)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D

import httpx
import pytest

from tests.integration.bot.conftest import Bot, Paper, wait_for

from .test_bot_money import exchange_position, net_equity, settled

pytestmark = pytest.mark.integration

MakeBot = Callable[..., Bot]
PERP = "SOL_USDC_PERP"


def test_perp_total_pnl_equals_equity_change_at_mark(paper: Paper, make_bot: MakeBot) -> None:
    """Issue 9's judge: a perp grid's `total_pnl` equals its account's equity change at the
    mark price. The realistic exchange's mark is smoothed and carries a basis, so it differs
    from the last trade. Expected: the bot values its perp position at the exchange's mark
    (`GET /api/v1/position` markPrice, or the markPrice stream) for unrealized PnL,
    total_pnl and the stop-loss/take-profit check - the figure liquidation is judged on.

    Today `unrealized_pnl` uses the last trade price: after 99 -> 93.5 with long 3, total_pnl is
    about 10 below the exchange's equity change (mark about 96.9)."""
    e0 = net_equity(paper)
    bot = make_bot("pnl", PERP, "perp_grid", order_quantity="1", boundary_tolerance="1").start()
    wait_for(lambda: len(bot.get("/api/grid")["open_orders"]) == 10, what="10 orders")
    for price in ("97.9", "95.9", "101", "104.1", "99", "93.5"):
        paper.set_price(PERP, price)
        wait_for(lambda: settled(bot, paper), what=f"fills applied at {price}")
    wait_for(
        lambda: D(bot.get("/api/grid")["position"]) == exchange_position(paper) != 0,
        what="position agrees",
    )
    wait_for(lambda: D(bot.get("/api/grid")["last_price"]) == D("93.5"), what="bot read 93.5")

    def exchange_mark() -> D:
        rows = httpx.get(f"{paper.url}/api/v1/markPrices", params={"symbol": PERP}, timeout=5)
        return D(rows.json()[0]["markPrice"])

    # The bot reads the mark after the cycle's fills: wait until it has the exchange's mark.
    wait_for(
        lambda: (
            (m := bot.get("/api/grid").get("mark_price")) is not None and D(m) == exchange_mark()
        ),
        what="the bot's mark is the exchange's",
    )
    total = D(bot.get("/api/grid")["profit"]["total_pnl"])
    change = net_equity(paper) - e0  # only the perp moved: the SOL balance keeps its value
    assert abs(total - change) <= D("0.01"), (total, change)
