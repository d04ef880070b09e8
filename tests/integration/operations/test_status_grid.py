"""`status`/`list` show each grid's trading state, read from the running bots."""

from __future__ import annotations

import os
import signal

from tests.integration.bot.conftest import wait_for
from tests.integration.operations.conftest import Ops


def _grid(ops: Ops, name: str) -> dict[str, object]:
    rows = {r["name"]: r for r in ops.status()}
    grid = rows[name]["grid"]
    assert isinstance(grid, dict)
    return grid


def test_status_carries_grid_columns_and_follows_pause(ops: Ops) -> None:
    port = ops.grid("sol-a")
    ops.program("plain")
    started = ops.gk("start", "-d")
    assert started.returncode == 0, started.stderr
    wait_for(lambda: ops.view("sol-a", port)["open_orders"], what="grid orders placed")

    grid = wait_for(lambda: (g := _grid(ops, "sol-a")).get("open_orders") and g, what="columns")
    assert grid["answered"] is True
    assert grid["trading"] == "trading"
    assert grid["range"] == "in"
    assert grid["lower"] == "90" and grid["upper"] == "110"
    assert grid["total_pnl"] is not None
    # Counted from the bot's own view, not made up.
    live = [o for o in ops.view("sol-a", port)["open_orders"] if o["status"] == "live"]
    assert grid["open_orders"] == len(live) > 0
    rows = {r["name"]: r for r in ops.status()}
    assert rows["plain"]["grid"] is None

    ops.post("sol-a", port, "/api/pause")
    wait_for(lambda: _grid(ops, "sol-a")["trading"] == "paused", what="paused shown")
    table = ops.gk("status").stdout
    assert "TRADING" in table and "RANGE" in table and "PNL" in table
    line = next(x for x in table.splitlines() if x.startswith("sol-a"))
    assert "paused" in line and " in " in line
    plain = next(x for x in table.splitlines() if x.startswith("plain"))
    assert plain.split()[-5:] == ["-", "-", "-", "-", "-"]

    # The price leaves the range: the column says so.
    ops.post("sol-a", port, "/api/resume")
    ops.paper.set_price("SOL_USDC", "120")
    wait_for(lambda: _grid(ops, "sol-a")["range"] == "above", what="above the range")

    listed = ops.gk("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"trading"' in listed.stdout


def test_a_bot_that_does_not_answer_shows_a_question_mark(ops: Ops) -> None:
    port = ops.grid("sol-b")
    assert ops.gk("start", "-d").returncode == 0
    wait_for(lambda: ops.view("sol-b", port)["open_orders"], what="grid orders placed")
    pid = int(ops.status("sol-b")[0]["pid"])
    os.kill(pid, signal.SIGSTOP)  # alive to the keeper, silent to the API
    try:
        rows = ops.status("sol-b")
        assert rows[0]["grid"]["answered"] is False
        table = ops.gk("status", "sol-b")
        line = next(x for x in table.stdout.splitlines() if x.startswith("sol-b"))
        assert line.split()[-5:] == ["?", "?", "?", "?", "?"]
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_stopped_grid_shows_no_stale_health(ops: Ops) -> None:
    port = ops.grid("sol-c")
    assert ops.gk("start", "-d").returncode == 0
    wait_for(lambda: ops.view("sol-c", port)["open_orders"], what="grid orders placed")
    assert ops.gk("stop", "sol-c").returncode == 0
    table = ops.gk("status").stdout
    line = next(x for x in table.splitlines() if x.startswith("sol-c"))
    assert "healthy" not in line
    assert ops.status()[0]["grid"] == {"answered": False, "error": "not running"}
