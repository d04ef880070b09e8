"""Issue 9, defects 7 and 11 against a paper exchange with a narrow price band: levels outside
the band wait, `grid show` says so, `config check` warns."""

from __future__ import annotations

import copy
from decimal import Decimal as D
from typing import Any

import pytest

from .conftest import PAPER_CONFIG, Paper, wait_for
from .helpers import MakeBot, gk, live, loops_pass

pytestmark = pytest.mark.integration


@pytest.fixture
def paper_config() -> dict[str, Any]:
    """Markets with a narrow price band: limit prices within 5% of the last price."""
    config = copy.deepcopy(PAPER_CONFIG)
    for market in config["markets"]:
        market["min_multiplier"] = "0.95"
        market["max_multiplier"] = "1.05"
    return config


def test_levels_outside_the_price_band_wait_instead_of_being_refused(
    paper: Paper, make_bot: MakeBot
) -> None:
    """Defect 7: band 95-105 at 100, grid 90-110: the buys at 96 and 98 are sent, those at 90-94
    wait (no refusals, no new clientIds); the sells close the grid's inventory, so none is left
    without an exit: 102 and 104 rest at their levels, 106-110 at the band's edge (105). `grid
    show` says so and prints total_pnl. When the price moves the band, the levels inside it are
    placed and the closes at the edge go back to their levels."""
    bot = make_bot("spot-band").start()
    wait_for(lambda: len(live(bot)) == 7, what="4 levels inside the band + 3 closes at its edge")
    loops_pass(bot, 2.0)
    assert sorted(D(o["price"]) for o in live(bot)) == [96, 98, 102, 104, 105, 105, 105]
    assert "order_rejected" not in bot.output()
    _, history, _, _ = paper.query("SOL_USDC")
    assert len(history) == 7  # nothing else was ever sent

    shown = gk(bot, "grid", "show", "spot-band", "--home", str(bot.home))
    assert shown.returncode == 0, shown.stderr
    assert "total_pnl 0" in shown.stdout
    assert "3 levels wait outside the exchange's price band" in shown.stdout
    assert "3 closes rest at the band's edge" in shown.stdout

    paper.set_price("SOL_USDC", "103.5")  # fills the sell at 102; band now 98.325-108.675
    wait_for(
        lambda: {D(o["price"]) for o in live(bot)} >= {D(100), D(104), D(106), D(108)},
        what="levels entering the band are placed",
    )
    # Nothing was sent outside the band, so nothing was ever refused.
    assert D(110) not in {D(o["price"]) for o in live(bot)}
    assert "order_rejected" not in bot.output()


def test_config_check_warns_band_and_step_from_the_exchange(
    paper: Paper, make_bot: MakeBot
) -> None:
    """Defects 7 and 11: `config check` reads the market: the range beyond the band and an
    order_quantity the step rounds down are warnings (exit 0); the endpoints are printed."""
    bot = make_bot("spot-check", order_quantity="1.005")
    checked = gk(bot, "config", "check", str(bot.config_path))
    assert checked.returncode == 0, checked.stderr
    assert f"exchange paper: {paper.url}" in checked.stdout
    assert "price band" in checked.stderr and "grid_lower_price 90 is below" in checked.stderr
    assert "order_quantity: 1.005 is rounded down to 1.00" in checked.stderr
    offline = gk(bot, "config", "check", "--offline", str(bot.config_path))
    assert offline.returncode == 0 and "price band" not in offline.stderr
