"""A close never asks for more than the exchange holds, on the real paper exchange.

A perp grid holds 2 by its books; part of it is closed by hand on the exchange (the test's own
market order on the bots' account), so the grid's books hold more than the exchange. A close of
the grid's 2 would be refused as a whole (reduce-only) and retried for ever, leaving the real
position open: the bot must read the exchange's position before the close and send what it still
holds. The exchange's own records (position, open orders, order history) are the judge.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from gridkeeper.exchange.models import Order

from .conftest import Bot, Paper, wait_for
from .helpers import PERP, MakeBot

pytestmark = pytest.mark.integration


def exchange_state(paper: Paper) -> tuple[D, int]:
    """(the exchange's position in the perp, how many of the account's orders rest on it)."""
    opened, _, _, positions = paper.query(PERP)
    held = sum((p.net_quantity for p in positions if p.symbol == PERP), D(0))
    return held, len(opened)


def closes(paper: Paper) -> list[Order]:
    """The bot's reduce-only market orders in the exchange's history (the manual ones are not
    reduce-only)."""
    return [o for o in paper.query(PERP)[1] if o.order_type == "Market" and o.reduce_only]


def detailed(bot: Bot) -> dict[str, Any]:
    return bot.get("/health/detailed")


def long_2_paused_then_sold_by_hand(paper: Paper, bot: Bot, sold: str) -> None:
    """Long 2 on both sides, paused by the operator (nothing rests), then `sold` sold by hand."""
    wait_for(lambda: detailed(bot)["open_orders"] == 10, what="10 orders")
    paper.set_price(PERP, "95.9")  # buys at 98 and 96 fill: long 2
    wait_for(
        lambda: D(detailed(bot)["position"]) == 2 and exchange_state(paper)[0] == 2,
        what="long 2 on both sides",
    )
    assert bot.post("/api/pause").status_code == 200
    wait_for(lambda: exchange_state(paper) == (D(2), 0), what="paused: nothing rests, long 2")
    assert paper.trade(PERP, "Ask", sold) == D(sold)  # by hand: the grid does not know


def assert_flat_after_one_close_of(paper: Paper, bot: Bot, quantity: D) -> dict[str, Any]:
    d = wait_for(
        lambda: (d := detailed(bot))["state"] == "stopped" and not d["closing"] and d,
        timeout=60,
        what="stopped, close done",
    )
    wait_for(lambda: exchange_state(paper) == (D(0), 0), what="flat, nothing resting")
    sent = wait_for(lambda: closes(paper), what="the close in the order history")
    assert [(o.side, o.executed_quantity) for o in sent] == [("Ask", quantity)]
    assert D(d["position"]) == 0 and d["open_orders"] == 0  # the grid's books agree
    out = bot.output()
    assert '"event":"order_rejected"' not in out  # no close refused (ReduceOnlyNotReduced)
    assert '"event":"close_capped"' in out
    return d


def test_stop_flatten_closes_only_what_the_exchange_still_holds(
    paper: Paper, make_bot: MakeBot
) -> None:
    bot = make_bot("cap-flat", PERP, "perp_grid", boundary_tolerance="1").start()
    long_2_paused_then_sold_by_hand(paper, bot, "1")  # the exchange: 1, the grid: 2
    result = bot.post("/api/stop", {"flatten": True})
    assert result.status_code == 200 and result.json()["closing"] is True, result.text
    d = assert_flat_after_one_close_of(paper, bot, D(1))
    assert d["state_reason"] == "stop requested over the API"


def test_a_stop_loss_before_the_mismatch_is_confirmed_closes_what_the_exchange_holds(
    paper: Paper, make_bot: MakeBot
) -> None:
    """The manual sale is seen as a gap only after MISMATCH_CONFIRM_S; the price runs past the
    stop-loss at once, inside that window: the limit fires on the grid's 2, the close sends 1."""
    bot = make_bot("cap-sl", PERP, "perp_grid", stop_loss="10", boundary_tolerance="1").start()
    long_2_paused_then_sold_by_hand(paper, bot, "1")
    paper.set_price(PERP, "85")  # by the grid's books about 2 x -12: past the stop-loss of 10
    d = assert_flat_after_one_close_of(paper, bot, D(1))
    assert d["state_reason"].startswith("stop_loss: total PnL"), d


def test_an_exchange_position_on_the_other_side_gets_no_close(
    paper: Paper, make_bot: MakeBot
) -> None:
    """Sold 3 by hand: the exchange is short 1 while the grid is long 2. A close in the grid's
    direction (a sell) would add to the short: nothing is sent, and the bot stops the close with
    a position_mismatch reason for the operator."""
    bot = make_bot("cap-opp", PERP, "perp_grid", boundary_tolerance="1").start()
    long_2_paused_then_sold_by_hand(paper, bot, "3")
    assert bot.post("/api/stop", {"flatten": True}).status_code == 200
    d = wait_for(
        lambda: (d := detailed(bot))["state_reason"].startswith("position_mismatch") and d,
        timeout=30,
        what="the close refused for the operator",
    )
    assert d["state"] == "stopped" and not d["closing"], d
    assert "the other side" in d["state_reason"] and "grid adopt cap-opp" in d["state_reason"]
    assert exchange_state(paper) == (D(-1), 0)
    assert closes(paper) == []  # no close at all went out
    assert D(d["position"]) == 2  # the grid's books are left for the operator (adopt)

    # The remedy the reason names: adopt the exchange's short 1, then flatten: a reduce-only buy.
    adopted = bot.post("/api/grid/adopt")
    assert adopted.status_code == 200 and adopted.json()["adopted"]["after"] == "-1", adopted.text
    assert bot.post("/api/stop", {"flatten": True}).status_code == 200
    wait_for(
        lambda: (d := detailed(bot))["state"] == "stopped" and not d["closing"] and d,
        timeout=60,
        what="the adopted short closed",
    )
    wait_for(lambda: exchange_state(paper) == (D(0), 0), what="flat, nothing resting")
    sent = wait_for(lambda: closes(paper), what="the close in the order history")
    assert [(o.side, o.executed_quantity) for o in sent] == [("Bid", D(1))]
    assert D(detailed(bot)["position"]) == 0
    assert '"event":"order_rejected"' not in bot.output()
