"""The `run.py --cli` menu against a real keeper with grid bots and a plain program: grid actions
list only grids, an instance is taken by number or name, pause/resume/logs/alerts entries, and
stopping asks (what to do with the orders, then for confirmation)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.integration.bot.conftest import wait_for
from tests.integration.operations.conftest import Ops
from tests.terminal import Terminal

RUN_PY = Path(__file__).resolve().parents[3] / "run.py"


def test_menu_grid_entries_pause_resume_stop(ops: Ops) -> None:
    port = ops.grid("sol-m")
    ops.program("plain")
    assert ops.gk("start", "-d").returncode == 0
    wait_for(
        lambda: sum(o["status"] == "live" for o in ops.view("sol-m", port)["open_orders"]) == 10,
        what="grid orders",
    )
    term = Terminal([sys.executable, str(RUN_PY), "--cli"], ops.root, ops.env)
    try:
        menu = term.expect("choose")
        numbers = [line.split()[0] for line in menu.splitlines() if line[:3].strip().isdigit()]
        assert numbers == [str(n) for n in range(1, 12)] + ["0"]  # no gaps; 10 stays 10
        term.send("6")  # pause: only grids are offered
        listed = term.expect("grid (number, name or control address)")
        assert "sol-m" in listed and "plain" not in listed
        term.send("1")
        term.expect("sol-m: paused")
        assert ops.view("sol-m", port)["status"] == "paused"

        term.expect("choose")
        term.send("7")
        term.expect("grid (number, name or control address)")
        term.send("sol-m")
        term.expect("sol-m: running")

        term.expect("choose")
        term.send("8")  # logs: any instance
        listed = term.expect("instance (number or name)")
        assert "plain" in listed and "sol-m" in listed
        term.send("sol-m")
        term.expect("gridkeeper.bot:")  # its log lines

        term.expect("choose")
        term.send("9")
        term.expect("alert")  # "no alerts" or the history table

        term.expect("choose")
        term.send("5")
        term.expect("instance (number or name)")
        term.send("sol-m")
        term.expect("its orders")
        term.send("cancel")
        term.expect("stop sol-m?")
        term.send("n")
        term.expect("not stopped")
        assert ops.view("sol-m", port)["status"] == "running"

        term.expect("choose")
        term.send("5")
        term.expect("instance (number or name)")
        term.send("sol-m")
        term.expect("its orders")
        term.send("cancel")
        term.expect("stop sol-m?")
        term.send("y")
        term.expect("cancelled 10 orders")
        term.expect("sol-m:")
        wait_for(lambda: not ops.paper.query("SOL_USDC")[0], what="no orders left")
        rows = {r["name"]: r["state"] for r in ops.status()}
        assert rows["sol-m"] == "stopped" and rows["plain"] == "running"

        term.expect("choose")
        term.send("0")
        term.expect("bye")
        assert term.proc.wait(timeout=10) == 0
    finally:
        term.close(wait_s=0)
