"""Safe changes on a real bot and the paper exchange: the adjust preview (`dry_run`), the
confirmation of `grid adjust`, `--save`, and `POST /api/stop` with its flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal as D

from .conftest import Bot, Paper, wait_for
from .helpers import PERP, MakeBot, live


def run_gk(bot: Bot, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`gridkeeper ARGS` from the bot's project, stdin not a terminal (as in a script)."""
    return subprocess.run(
        [sys.executable, "-m", "gridkeeper", *args, "--home", str(bot.home)],
        cwd=bot.project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env},
    )


def test_dry_run_shows_orders_and_changes_nothing(paper: Paper, make_bot: MakeBot) -> None:
    bot = make_bot("spot-dry").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    before = bot.get("/api/grid")
    answer = bot.post("/api/grid/adjust", {"lower": "94", "upper": "114", "dry_run": True})
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["dry_run"] is True and preview["refused"] is None
    assert preview["new"] == {"lower": "94", "upper": "114", "num": 11}
    # 90 and 92 buys leave; new levels above 110 appear only as far as inventory allows.
    cancelled = {D(o["price"]) for o in preview["cancel"]}
    assert D(90) in cancelled and all(o["side"] and o["quantity"] for o in preview["cancel"])
    assert all(D(94) <= D(o["price"]) <= D(114) for o in preview["place"])
    # The spot grid holds 5 SOL: each unit's sell says which purchase it closes.
    assert preview["covers"] and all(c["side"] == "Ask" for c in preview["covers"])
    assert sum(D(c["quantity"]) for c in preview["covers"]) == D(before["position"])
    assert all("covers" in c and c["covers"] for c in preview["covers"])
    assert preview["warnings"] == []
    after = bot.get("/api/grid")
    assert (after["grid_lower_price"], after["grid_upper_price"]) == ("90", "110")
    assert {o["client_id"] for o in live(bot)} == {
        o["client_id"] for o in before["open_orders"] if o["status"] == "live"
    }


def test_dry_run_warns_and_refuses(paper: Paper, make_bot: MakeBot) -> None:
    bot = make_bot("spot-warn").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    through = bot.post("/api/grid/adjust", {"lower": "101", "upper": "121", "dry_run": True}).json()
    assert through["refused"] is None
    assert any("does not contain the current price" in w for w in through["warnings"])
    # All levels below the price: the 5 SOL held would have no sell to close them.
    below = bot.post("/api/grid/adjust", {"lower": "60", "upper": "80", "dry_run": True})
    assert below.status_code == 200
    assert "no exit" in below.json()["refused"]
    assert below.json()["place"] == [] and below.json()["cancel"] == []
    real = bot.post("/api/grid/adjust", {"lower": "60", "upper": "80"})
    assert real.status_code == 400 and real.json()["field"] == "position"
    bad = bot.post("/api/grid/adjust", {"lower": "94", "dry_run": "yes"})
    assert bad.status_code == 400 and bad.json()["field"] == "dry_run"
    both = bot.post("/api/grid/adjust", {"lower": "94", "grid_lower_price": "95"})
    assert both.status_code == 400
    assert bot.get("/api/grid")["grid_lower_price"] == "90"


def test_cli_adjust_confirms_previews_and_saves(paper: Paper, make_bot: MakeBot) -> None:
    bot = make_bot("spot-cli").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    name = "spot-cli"
    shown = run_gk(bot, "grid", "adjust", name, "--lower", "94", "--upper", "114", "--dry-run")
    assert shown.returncode == 0, shown.stderr
    assert "cancel" in shown.stdout and "place" in shown.stdout and "covers" in shown.stdout
    # Not a terminal and no --yes: a clear error, nothing changed.
    asked = run_gk(bot, "grid", "adjust", name, "--lower", "94", "--upper", "114")
    assert asked.returncode != 0 and "--yes" in asked.stderr
    assert bot.get("/api/grid")["grid_lower_price"] == "90"
    refused = run_gk(bot, "grid", "adjust", name, "--lower", "60", "--upper", "80", "--yes")
    assert refused.returncode != 0 and "refused" in refused.stderr
    original = bot.config_path.read_text()
    applied = run_gk(
        bot, "grid", "adjust", name, "--lower", "94", "--upper", "114", "--yes", "--save", "--json"
    )
    assert applied.returncode == 0, applied.stderr
    out = json.loads(applied.stdout)
    assert out["preview"]["dry_run"] is True
    assert out["result"]["grid_lower_price"] == "94"
    assert out["saved"] == str(bot.config_path)
    saved = json.loads(bot.config_path.read_text())
    assert saved["strategy_config"]["grid_lower_price"] == "94"
    assert saved["strategy_config"]["grid_upper_price"] == "114"
    assert list(saved) == list(json.loads(original))  # key order kept
    unchanged = {k: v for k, v in saved["strategy_config"].items() if "price" not in k}
    assert unchanged == {
        k: v for k, v in json.loads(original)["strategy_config"].items() if "price" not in k
    }


def test_stop_leaves_orders_resting_unless_asked(paper: Paper, make_bot: MakeBot) -> None:
    bot = make_bot("spot-stop").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    plain = bot.post("/api/stop").json()
    assert plain["status"] == "stopped" and plain["cancelled"] == []
    assert len(plain["left_resting"]) == 10
    assert len(paper.query("SOL_USDC")[0]) == 10  # still on the book
    cancel = bot.post("/api/stop", {"cancel_orders": True}).json()
    assert len(cancel["cancelled"]) == 10 and cancel["left_resting"] == []
    wait_for(lambda: not paper.query("SOL_USDC")[0], what="no open orders")
    bad = bot.post("/api/stop", {"flatten": "yes"})
    assert bad.status_code == 400 and bad.json()["field"] == "flatten"


def test_stop_flatten_closes_perp_position_reduce_only(paper: Paper, make_bot: MakeBot) -> None:
    bot = make_bot("perp-flat", symbol=PERP, strategy="perp_grid").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    paper.set_price(PERP, "95.9")
    wait_for(lambda: D(bot.get("/api/grid")["position"]) == 2, what="long 2")
    result = bot.post("/api/stop", {"flatten": True}).json()
    assert result["flatten"] is True and result["closing"] is True
    assert result["close"]["side"] == "Ask" and result["close"]["reduce_only"] is True
    assert result["close"]["quantity"] == "2"
    assert result["cancelled"]
    wait_for(
        lambda: (
            (g := bot.get("/api/grid"))["status"] == "stopped"
            and D(g["position"]) == 0
            and not g["closing"]
        ),
        what="flat and stopped",
    )
    # The order history lags on the realistic profile: wait for the close to show there.
    wait_for(
        lambda: any(o.order_type == "Market" and o.reduce_only for o in paper.query(PERP)[1]),
        what="the reduce-only market close in the order history",
    )
    opened, _, _, positions = paper.query(PERP)
    assert not opened
    assert all(p.net_quantity == 0 for p in positions if p.symbol == PERP)


def test_save_that_cannot_write_fails_before_the_grid_moves(
    paper: Paper, make_bot: MakeBot
) -> None:
    bot = make_bot("spot-ref").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    data = json.loads(bot.config_path.read_text())
    data["strategy_config"]["grid_lower_price"] = "${GRID_LOWER}"
    bot.config_path.write_text(json.dumps(data))
    # The variable is set (the config loads); the file's value is still the reference.
    done = run_gk(
        bot, "grid", "adjust", "spot-ref", "--lower", "94", "--yes", "--save", GRID_LOWER="90"
    )
    assert done.returncode != 0 and "environment reference" in done.stderr
    assert bot.get("/api/grid")["grid_lower_price"] == "90"  # nothing moved
