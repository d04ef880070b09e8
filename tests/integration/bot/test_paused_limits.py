"""stop_loss while the grid is paused by the operator, on the real paper exchange.

The operator pauses a perp grid that holds a position; the price then runs away past the
stop-loss: the bot must close the position (reduce-only, at market) and stop. The exchange's
own records (position, open orders) are the judge.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from .conftest import Bot, Paper, wait_for
from .helpers import PERP, MakeBot

pytestmark = pytest.mark.integration


def exchange_state(paper: Paper) -> tuple[D, int]:
    """(the exchange's position in the perp, how many of the account's orders rest on it)."""
    opened, _, _, positions = paper.query(PERP)
    held = sum((p.net_quantity for p in positions if p.symbol == PERP), D(0))
    return held, len(opened)


def detailed(bot: Bot) -> dict[str, Any]:
    return bot.get("/health/detailed")


def test_operator_pause_then_a_run_past_the_stop_loss_closes_and_stops(
    paper: Paper, make_bot: MakeBot
) -> None:
    bot = make_bot("pause-sl", PERP, "perp_grid", stop_loss="10", boundary_tolerance="1").start()
    wait_for(lambda: detailed(bot)["open_orders"] == 10, what="10 orders")
    paper.set_price(PERP, "95.9")  # buys at 98 and 96 fill: long 2, about -2 (inside 10)
    wait_for(
        lambda: D(detailed(bot)["position"]) == 2 and exchange_state(paper)[0] == 2,
        what="long 2 on both sides",
    )
    paused = bot.post("/api/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused", paused.text
    # The operator's pause cancels every order and keeps the position; the limits watch it.
    wait_for(lambda: exchange_state(paper) == (D(2), 0), what="paused: nothing rests, long 2")
    d = detailed(bot)
    assert d["state"] == "paused" and d["limits_watched"] is True, d

    paper.set_price(PERP, "85")  # about 2 x -12: past the stop-loss of 10
    d = wait_for(
        lambda: (d := detailed(bot))["state"] == "stopped" and not d["closing"] and d,
        timeout=60,
        what="stopped, close done",
    )
    assert d["state_reason"].startswith("stop_loss: total PnL"), d
    assert d["limits_watched"] is False  # stopped: watched no more
    wait_for(lambda: exchange_state(paper) == (D(0), 0), what="flat, nothing resting")
    assert D(d["position"]) == 0 and d["open_orders"] == 0
    assert D(d["pnl"]["total_pnl"]) < -10


def test_a_position_mismatch_pause_does_not_close_what_the_exchange_does_not_hold(
    paper: Paper, make_bot: MakeBot
) -> None:
    """The grid holds 2 by its books; a manual sell of 2 leaves the exchange flat: the bot
    pauses on the mismatch. The price then falls far past the stop-loss by the grid's books:
    the limits are not watched in that pause (its reason and /health/detailed say so), so no
    close of the grid's 2 is sent (on a perp it would be refused, on spot it would sell the
    account's own base), and the exchange stays flat until the operator adopts."""
    bot = make_bot("mm-sl", PERP, "perp_grid", stop_loss="10", boundary_tolerance="1").start()
    wait_for(lambda: detailed(bot)["open_orders"] == 10, what="10 orders")
    paper.set_price(PERP, "95.9")
    wait_for(lambda: D(detailed(bot)["position"]) == 2, what="long 2")
    assert paper.trade(PERP, "Ask", "2") == 2  # by hand: the exchange is flat now
    d = wait_for(
        lambda: (d := detailed(bot))["state"] == "paused" and d,
        timeout=40,
        what="paused on the mismatch (confirmed after 10 s)",
    )
    assert d["state_reason"].startswith("position_mismatch"), d
    assert "stop_loss / take_profit are not watched" in d["state_reason"]
    assert d["limits_watched"] is False
    wait_for(lambda: exchange_state(paper) == (D(0), 0), what="grid orders cancelled")
    sent = detailed(bot)["orders_sent"]  # the bot's count (the exchange's history lags)

    paper.set_price(PERP, "80")  # by the grid's books about 2 x -17: far past 10
    wait_for(lambda: D(bot.get("/api/grid")["last_price"]) == 80, what="the bot reads 80")
    start = detailed(bot)["last_loop_at"]
    wait_for(lambda: detailed(bot)["last_loop_at"] >= start + 2.5, what="loops at 80")
    d = detailed(bot)
    assert d["state"] == "paused" and d["state_reason"].startswith("position_mismatch")
    assert D(d["position"]) == 2 and not d["closing"]
    assert exchange_state(paper) == (D(0), 0)
    assert d["orders_sent"] == sent  # no order at all went out
