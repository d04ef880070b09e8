"""`python run.py --cli` entry 10, driven through a pseudo-terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.terminal import Terminal

from .conftest import Bot, Paper, wait_for

pytestmark = pytest.mark.integration

RUN_PY = Path(__file__).resolve().parents[3] / "run.py"


def test_menu_entry_10_adjusts_and_refuses_bad_input(
    paper: Paper, make_bot: Callable[..., Bot]
) -> None:
    """Good bounds are previewed, then applied once confirmed (blank keeps a bound); bad ones
    are refused and change nothing; a preview not confirmed changes nothing."""
    bot = make_bot("spot-menu").start()
    wait_for(lambda: bot.get("/api/grid")["open_orders"], what="orders")
    term = Terminal([sys.executable, str(RUN_PY), "--cli", "--home", str(bot.home)], bot.project)
    try:
        term.expect("choose")
        term.send("10")
        term.expect("grid (number, name or control address)")
        term.send("spot-menu")  # by name: its config in ./config/active gives the port
        term.expect("current range: 90 - 110")
        term.expect("new lower bound (blank keeps 90)")
        term.send("")
        term.expect("new upper bound")
        term.send("abc")
        term.expect("not a number")
        term.send("114")
        term.expect("range 90-110 (11 points) -> 90-114 (11 points)")
        term.expect("place")
        term.expect("apply this change?")
        term.send("n")
        term.expect("nothing was changed")
        assert bot.get("/api/grid")["grid_upper_price"] == "110"

        term.expect("choose")
        term.send("10")
        term.expect("grid (number, name or control address)")
        term.send(bot.url)
        term.expect("new lower bound")
        term.send("")
        term.expect("new upper bound")
        term.send("112")
        term.expect("apply this change?")
        term.send("y")
        term.expect("applied: 90 - 112")
        assert bot.get("/api/grid")["grid_upper_price"] == "112"

        term.expect("choose")
        term.send("10")
        term.expect("grid (number, name or control address)")
        term.send(bot.url)
        term.expect("new lower bound")
        term.send("120")
        term.expect("new upper bound")
        term.send("115")
        term.expect("nothing was changed")
        grid = bot.get("/api/grid")
        assert (grid["grid_lower_price"], grid["grid_upper_price"]) == ("90", "112")

        term.expect("choose")
        term.send("0")
        term.expect("bye")
        assert term.proc.wait(timeout=10) == 0
    finally:
        term.close(wait_s=0)
