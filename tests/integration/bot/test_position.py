"""Issue 9, defect 5 against the real paper exchange: the bot compares its position with the
exchange's, pauses on a mismatch with an alert, and `grid adopt` repairs it."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from typing import Any

import pytest

from gridkeeper.exchange.client import BackpackClient

from .conftest import Paper, wait_for
from .helpers import PERP, MakeBot, gk, live, loops_pass, report

pytestmark = pytest.mark.integration


def test_manual_trade_pauses_with_position_mismatch_alert_and_adopt_repairs(
    paper: Paper, make_bot: MakeBot
) -> None:
    """Defect 5: a manual buy of 3 on the bot's account → the bot pauses (position_mismatch,
    both figures) and says so in its grid report (the monitor's position_mismatch alert);
    `grid adopt` takes the exchange's 3 at the mark without a PnL jump, resumes, reports
    running again (the alert resolves), and the grid's position equals the
    exchange's."""
    bot = make_bot("perp-mm", symbol=PERP, strategy="perp_grid").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    paper.trade(PERP, "Bid", "3")

    def paused() -> dict[str, Any] | None:
        grid = bot.get("/api/grid")
        return grid if grid["status"] == "paused" else None

    grid = wait_for(paused, timeout=40, what="paused on the mismatch (confirmed after 10 s)")
    assert grid["reason"].startswith("position_mismatch")
    assert "holds 0" in grid["reason"] and " 3 " in grid["reason"] + " "
    assert "gridkeeper grid adopt perp-mm" in grid["reason"]
    wait_for(lambda: not paper.query(PERP)[0], what="grid orders cancelled")
    # The monitor's position_mismatch alert is made from the bot's report (see test_alerts).
    rep = wait_for(lambda: (r := report(bot)) and r.status == "paused" and r, what="report")
    assert rep.reason_kind == "position_mismatch" and rep.exchange_position == 3
    assert "position_mismatch" in bot.output()
    pnl_before = D(bot.get("/api/grid")["profit"]["total_pnl"])

    adopted = gk(bot, "grid", "adopt", "perp-mm", "--home", str(bot.home))
    assert adopted.returncode == 0, adopted.stderr
    assert "adopted: position 0 -> 3" in adopted.stdout
    grid = bot.get("/api/grid")
    assert grid["status"] == "running" and D(grid["position"]) == 3
    # The difference was booked at the mark price: total PnL did not jump.
    assert abs(D(grid["profit"]["total_pnl"]) - pnl_before) < D("0.5")
    rep = wait_for(lambda: (r := report(bot)) and r.status == "running" and r, what="report")
    assert rep.reason_kind is None
    wait_for(lambda: len(paper.query(PERP)[0]) > 0, what="orders back after adopt")
    position = next(p.net_quantity for p in paper.query(PERP)[3] if p.symbol == PERP)
    assert D(bot.get("/api/grid")["position"]) == position == 3
    loops_pass(bot, 2.5)  # several full reconciles: consistent now, no new pause
    assert bot.get("/api/grid")["status"] == "running"


def test_spot_sale_under_the_grid_is_a_mismatch(paper: Paper, make_bot: MakeBot) -> None:
    """Spot: the account's base balance must cover the grid's inventory. While the bot is down
    its orders are cancelled and nearly all the SOL sold by hand: at restart the grid is short,
    so it pauses instead of selling SOL the account no longer has; adopt takes the balance."""
    bot = make_bot("spot-mm").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    held = D(bot.get("/api/grid")["position"])
    assert held == 5
    assert bot.stop() == 0

    async def cancel_all() -> None:
        key, secret = paper._keys()
        async with BackpackClient(paper.url, key, secret) as client:
            await client.cancel_all("SOL_USDC")

    asyncio.run(cancel_all())
    paper.trade("SOL_USDC", "Ask", "997")  # 3 SOL left: the grid counts 5
    bot.start()
    grid = wait_for(
        lambda: (g := bot.get("/api/grid"))["status"] == "paused" and g, timeout=40, what="paused"
    )
    assert grid["reason"].startswith("position_mismatch") and "base balance is 3" in grid["reason"]
    result = bot.post("/api/grid/adopt")
    assert result.status_code == 200, result.text
    assert result.json()["status"] == "running"
    assert D(result.json()["position"]) == D(result.json()["exchange_position"]) == 3
