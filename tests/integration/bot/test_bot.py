"""The bot process against a real paper exchange: trading, control API, restarts, exit codes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal as D

import httpx
import pytest

from gridkeeper.bot.client_ids import split_client_id

from .conftest import Bot, Paper, wait_for

pytestmark = pytest.mark.integration

MakeBot = Callable[..., Bot]


def live(bot: Bot) -> list[dict[str, str]]:
    return [o for o in bot.get("/api/grid")["open_orders"] if o["status"] == "live"]


def test_spot_grid_pairs_fills_and_books_profit(paper: Paper, make_bot: MakeBot) -> None:
    """Buy at 98 fills -> sell at 100 appears; that sell fills -> profit booked net of fees.

    FIFO: the sell at 100 sells the oldest unit (the starting inventory, valued at 100), so the
    realized figure is minus its fee, and the 98 unit's gain is unrealized until it is sold."""
    bot = make_bot("spot-a").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    paper.set_price("SOL_USDC", "97.9")
    wait_for(
        lambda: any(o["side"] == "Ask" and D(o["price"]) == 100 for o in live(bot)),
        what="sell at 100 after the buy at 98 filled",
    )
    paper.set_price("SOL_USDC", "100.1")
    grid = wait_for(
        lambda: (g := bot.get("/api/grid"))["profit"]["realized_grid_profit"] != "0" and g,
        what="profit booked",
    )
    profit = grid["profit"]
    assert D("-0.03") < D(profit["realized_grid_profit"]) < 0  # the sell's fee
    assert D(profit["total_pnl"]) > D("1.9")  # the round trip: 2 minus two small fees
    assert D(profit["fees"]) > 0
    wait_for(lambda: '"event":"profit"' in bot.output(), what="the profit event in the log")


def test_adjust_over_http_validates_applies_and_persists(paper: Paper, make_bot: MakeBot) -> None:
    """401 without token, 400 naming the field with nothing changed, then a good adjust that
    keeps common orders and survives a restart."""
    bot = make_bot("spot-adj").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    before = bot.get("/api/grid")
    assert bot.post("/api/grid/adjust", {"grid_upper_price": 120}, token=None).status_code == 401
    latin = {"Authorization": "Bearer caf\u00e9".encode()}  # non-ASCII bytes, as a client may send
    odd = httpx.post(bot.url + "/api/pause", headers=latin, timeout=10)
    assert odd.status_code == 401
    bad = bot.post("/api/grid/adjust", {"grid_lower_price": 130})
    assert bad.status_code == 400 and bad.json()["field"] == "grid_lower_price"
    unknown = bot.post("/api/grid/adjust", {"grid_upper": 130})
    assert unknown.status_code == 400 and unknown.json()["field"] == "grid_upper"
    assert bot.get("/api/grid")["open_orders"] == before["open_orders"]

    ok = bot.post("/api/grid/adjust", {"grid_lower_price": "94", "grid_upper_price": 114})
    assert ok.status_code == 200, ok.text
    assert (ok.json()["grid_lower_price"], ok.json()["grid_upper_price"]) == ("94", "114")
    kept = {o["client_id"] for o in before["open_orders"]} & {
        o["client_id"] for o in ok.json()["open_orders"]
    }
    assert len(kept) >= 7  # 94..98 buys and 102..110 sells were already where they belong
    # The spot grid holds 5 SOL: 5 sells above the price, 3 buys below; the two top slots
    # wait (no inventory to sell, and a buy above the price would take).
    wait_for(
        lambda: len(live(bot)) == 8 and all(D(94) <= D(o["price"]) <= D(114) for o in live(bot)),
        what="orders inside 94..114",
    )
    opened, _, _, _ = paper.query("SOL_USDC")
    assert all(D(94) <= (o.price or 0) <= D(114) for o in opened)

    assert bot.stop() == 0
    bot.start()
    grid = bot.get("/api/grid")
    assert (grid["grid_lower_price"], grid["grid_upper_price"]) == ("94", "114")


def test_pause_resume_stop(paper: Paper, make_bot: MakeBot) -> None:
    """Pause cancels every grid order, resume re-places them, stop stays up and says why."""
    bot = make_bot("spot-p").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    assert bot.post("/api/pause").json()["status"] == "paused"
    wait_for(lambda: not paper.query("SOL_USDC")[0], what="no open orders while paused")
    assert bot.post("/api/resume").json()["status"] == "running"
    wait_for(lambda: len(paper.query("SOL_USDC")[0]) == 10, what="orders back")
    result = bot.post("/api/stop").json()
    assert result["status"] == "stopped" and "stop" in result["reason"]
    health = bot.get("/health")
    assert health["status"] == "healthy" and health["state"] == "stopped"
    assert bot.proc is not None and bot.proc.poll() is None


def test_emergency_close_flattens_perp_position(paper: Paper, make_bot: MakeBot) -> None:
    """Price leaves the range: orders cancelled, position closed reduce-only, bot stays up."""
    bot = make_bot(
        "perp-ec",
        symbol="SOL_USDC_PERP",
        strategy="perp_grid",
        boundary_action="emergency_close",
        boundary_tolerance="0.01",
    ).start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    paper.set_price("SOL_USDC_PERP", "95.9")
    wait_for(lambda: D(bot.get("/api/grid")["position"]) == 2, what="long 2")
    paper.set_price("SOL_USDC_PERP", "85")
    wait_for(
        lambda: (g := bot.get("/api/grid"))["status"] == "stopped" and D(g["position"]) == 0,
        what="flat and stopped",
    )
    # The bot answers flat as soon as its close is acknowledged; the exchange's history may
    # list the close a moment later.
    wait_for(
        lambda: any(o.order_type == "Market" for o in paper.query("SOL_USDC_PERP")[1]),
        what="the market close in the order history",
    )
    opened, history, _, positions = paper.query("SOL_USDC_PERP")
    assert not opened
    assert all(p.net_quantity == 0 for p in positions if p.symbol == "SOL_USDC_PERP")
    closes = [o for o in history if o.order_type == "Market"]
    assert closes and all(o.reduce_only for o in closes)
    assert bot.get("/health")["state_reason"].startswith("price 85")


def test_restart_after_kill9_accounts_every_fill_without_duplicates(
    paper: Paper, make_bot: MakeBot
) -> None:
    """kill -9 while prices move: on restart every fill is applied, every slot has exactly one
    live order, and no clientId was ever sent twice."""
    symbol = "SOL_USDC_PERP"
    bot = make_bot("perp-r", symbol=symbol, strategy="perp_grid").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    paper.set_price(symbol, "97.9")
    wait_for(lambda: any(D(o["price"]) == 100 for o in live(bot)), what="sell at 100")
    bot.kill9()
    for price in ("95.9", "99.1", "104.1", "100.5"):  # fills on both sides while it is dead
        paper.set_price(symbol, price)
    bot.start()

    def settled() -> bool:
        opened = paper.query(symbol)[0]
        slots = [split_client_id(o.client_id or 0)[1] for o in opened]
        return len(opened) == 10 and sorted(slots) == list(range(10))

    wait_for(settled, what="one live order per slot")
    _, history, fills, positions = paper.query(symbol)
    ids = [o.client_id for o in history]
    assert len(ids) == len(set(ids)), "a clientId was sent twice"
    detailed = bot.get("/health/detailed")
    assert detailed["fills"] == len(fills)
    position = next((p.net_quantity for p in positions if p.symbol == symbol), D(0))
    assert D(bot.get("/api/grid")["position"]) == position
    assert "reconciled" in bot.output()


def test_fatal_problems_exit_78(paper: Paper, make_bot: MakeBot) -> None:
    """A spot strategy on a perp market, and a busy port, exit 78 with the reason."""
    wrong = make_bot("wrong", symbol="SOL_USDC_PERP", strategy="grid")
    wrong.start(wait=False)
    assert wrong.proc is not None and wrong.proc.wait(timeout=30) == 78
    assert "perp_grid" in wrong.output()

    busy = make_bot("busy")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", busy.port))
        holder.listen(1)
        busy.start(wait=False)
        assert busy.proc is not None and busy.proc.wait(timeout=30) == 78
    assert f"web_port {busy.port} on 127.0.0.1 is already in use by pid" in busy.output()


def test_changed_order_quantity_refuses_to_mix_sizes(paper: Paper, make_bot: MakeBot) -> None:
    """A grid saved with one order size does not restart with another (exit 78, says why)."""
    bot = make_bot("resized").start()
    assert bot.stop() == 0
    data = json.loads(bot.config_path.read_text())
    data["strategy_config"]["order_quantity"] = "2"
    bot.config_path.write_text(json.dumps(data))
    bot.start(wait=False)
    assert bot.proc is not None and bot.proc.wait(timeout=30) == 78
    assert "strategy_config.order_quantity" in bot.output()


def test_grid_cli_show_and_adjust(paper: Paper, make_bot: MakeBot) -> None:
    """`gridkeeper grid NAME` shows the range; a bad adjust exits 2 and changes nothing."""
    bot = make_bot("spot-cli").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gridkeeper", "grid", *args, "--home", str(bot.home)],
            cwd=bot.project,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    shown = cli("spot-cli")
    assert shown.returncode == 0 and "90 - 110" in shown.stdout, shown.stderr
    bad = cli("spot-cli", "--lower", "120", "--upper", "115")
    assert bad.returncode == 2 and "grid_lower_price" in bad.stderr
    assert bot.get("/api/grid")["grid_lower_price"] == "90"
    good = cli("adjust", "spot-cli", "--lower", "92", "--upper", "112", "--yes")
    assert good.returncode == 0, good.stderr
    assert "92 - 112" in good.stdout
    assert bot.get("/api/grid")["grid_upper_price"] == "112"
    paused = cli("pause", "spot-cli")
    assert paused.returncode == 0 and "paused" in paused.stdout


def test_keeper_restarts_a_killed_bot_and_it_reconciles(paper: Paper, make_bot: MakeBot) -> None:
    """Under the keeper: kill -9 the bot while prices move; the keeper restarts it, every fill
    is accounted for, each slot has one live order and no clientId was sent twice."""
    symbol = "SOL_USDC_PERP"
    bot = make_bot("perp-k", symbol=symbol, strategy="perp_grid")

    def gk(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gridkeeper", *args, "--home", str(bot.home)],
            cwd=bot.project,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def bot_status() -> dict[str, object]:
        rows = json.loads(gk("status", "--json").stdout)
        return next(r for r in rows if r["name"] == bot.name)

    started = gk("start", "-d", "--config", str(bot.config_path))
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
        paper.set_price(symbol, "97.9")
        wait_for(lambda: any(D(o["price"]) == 100 for o in live(bot)), what="sell at 100")
        first_pid = bot_status()["pid"]
        assert isinstance(first_pid, int)
        os.kill(first_pid, signal.SIGKILL)
        for price in ("95.9", "99.1", "104.1", "100.5"):
            paper.set_price(symbol, price)
        wait_for(
            lambda: (
                bot_status()["pid"] not in (None, first_pid)
                and bot.get("/health")["status"] == "healthy"
            ),
            timeout=60,
            what="keeper restarted the bot",
        )

        def settled() -> bool:
            opened = paper.query(symbol)[0]
            slots = sorted(split_client_id(o.client_id or 0)[1] for o in opened)
            return slots == list(range(10))

        wait_for(settled, what="one live order per slot")
        _, history, fills, positions = paper.query(symbol)
        ids = [o.client_id for o in history]
        assert len(ids) == len(set(ids)), "a clientId was sent twice"
        assert bot.get("/health/detailed")["fills"] == len(fills)
        position = next((p.net_quantity for p in positions if p.symbol == symbol), D(0))
        assert D(bot.get("/api/grid")["position"]) == position
    finally:
        gk("shutdown")
