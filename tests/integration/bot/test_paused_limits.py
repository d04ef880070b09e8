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
