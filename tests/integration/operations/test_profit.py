"""`gridkeeper profit` reads the bots' stores, so it answers while a bot is down."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.integration.bot.conftest import wait_for
from tests.integration.operations.conftest import Ops


def test_profit_from_the_store_matches_the_bot_and_survives_its_stop(ops: Ops) -> None:
    port = ops.grid("sol-p")
    assert ops.gk("start", "-d").returncode == 0
    wait_for(lambda: ops.view("sol-p", port)["open_orders"], what="grid orders placed")
    # Down through two levels and back: buys fill, then the sells that close them.
    for price in ("97.5", "95.5", "100.5", "104.5"):
        ops.paper.set_price("SOL_USDC", price)
        wait_for(lambda p=price: ops.view("sol-p", port)["last_price"] == p, what="price seen")
    wait_for(
        lambda: Decimal(ops.view("sol-p", port)["profit"]["realized_grid_profit"]) > 0,
        what="a round trip booked",
    )
    assert ops.gk("stop", "sol-p").returncode == 0  # the bot saves its state as it stops
    proc = ops.gk("profit", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    grid = report["grids"][0]
    assert grid["name"] == "sol-p"
    assert Decimal(grid["realized"]) > 0
    assert grid["fills"] >= 2 and grid["round_trips"] >= 1
    assert Decimal(grid["fees"]) > 0
    assert Decimal(grid["total_pnl"]) == Decimal(grid["realized"]) + Decimal(grid["unrealized"])
    assert report["total"]["fills"] == grid["fills"]
    assert sum(d["fills"] for d in grid["daily"].values()) == grid["fills"]

    table = ops.gk("profit", "sol-p", "--since", "1d")
    assert table.returncode == 0, table.stderr
    assert "ROUND TRIPS" in table.stdout and "DAY (UTC)" in table.stdout
    assert any(line.startswith("TOTAL") for line in table.stdout.splitlines())

    missing = ops.gk("profit", "nope")
    assert missing.returncode != 0 and "no store" in missing.stderr
