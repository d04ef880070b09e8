"""The adjust preview names levels outside the exchange's price band (a paper market whose
limit prices must be within 5% of the last price)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .conftest import PAPER_CONFIG, Paper, wait_for
from .helpers import MakeBot, live


@pytest.fixture
def paper_config() -> dict[str, Any]:
    config = copy.deepcopy(PAPER_CONFIG)
    for market in config["markets"]:
        market["min_multiplier"] = "0.95"
        market["max_multiplier"] = "1.05"
    return config


def test_dry_run_warns_about_levels_outside_the_price_band(paper: Paper, make_bot: MakeBot) -> None:
    bot = make_bot("spot-bandw", grid_lower_price="97", grid_upper_price="103").start()
    wait_for(lambda: len(live(bot)) >= 4, what="orders inside the band")
    inside = bot.post("/api/grid/adjust", {"lower": "96", "upper": "104", "dry_run": True})
    assert inside.status_code == 200, inside.text
    assert not any("price band" in w for w in inside.json()["warnings"])
    wide = bot.post("/api/grid/adjust", {"lower": "80", "upper": "120", "dry_run": True}).json()
    assert wide["refused"] is None
    warning = next(w for w in wide["warnings"] if "outside the exchange's price band" in w)
    assert "max 105" in warning and "min 95" in warning
    assert bot.get("/api/grid")["grid_lower_price"] == "97"  # nothing changed
