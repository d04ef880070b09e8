"""Leaving the market cleanly and keeping the file and the running grid in step, under a real
keeper with real bots on the paper exchange: `stop --cancel-orders`, plain `stop` (orders stay,
and it says so), `config show NAME`, `reload --dry-run`, `--json`, "started keeper in HOME"."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.integration.bot.conftest import wait_for
from tests.integration.operations.conftest import Ops


def _live(ops: Ops, name: str, port: int) -> int:
    return sum(1 for o in ops.view(name, port)["open_orders"] if o["status"] == "live")


def test_stop_says_orders_stay_or_cancels_them(ops: Ops) -> None:
    rest_port = ops.grid("sol-rest")
    clean_port = ops.grid("sol-clean")
    started = ops.gk("start", "-d", "--json")
    assert started.returncode == 0, started.stderr
    # The home had no keeper: the command says it started one, and where (stderr: JSON intact).
    assert f"started keeper in {ops.home}" in started.stderr
    outcomes = {r["name"]: r["outcome"] for r in json.loads(started.stdout)}
    assert set(outcomes) == {"sol-rest", "sol-clean"}
    wait_for(lambda: _live(ops, "sol-rest", rest_port) == 10, what="sol-rest orders")
    wait_for(lambda: _live(ops, "sol-clean", clean_port) == 10, what="sol-clean orders")
    again = ops.gk("start", "-d", "sol-rest")
    assert "started keeper" not in again.stderr  # one ran already

    plain = ops.gk("stop", "sol-rest")
    assert plain.returncode == 0, plain.stderr
    assert "10 orders left resting on the exchange" in plain.stdout
    assert "--cancel-orders" in plain.stdout

    clean = ops.gk("stop", "sol-clean", "--cancel-orders", "--json")
    assert clean.returncode == 0, clean.stderr
    [result] = json.loads(clean.stdout)
    assert result["name"] == "sol-clean" and len(result["orders"]["cancelled"]) == 10
    # What stays on the book is sol-rest's 10; sol-clean's were cancelled before it stopped.
    wait_for(lambda: len(ops.paper.query("SOL_USDC")[0]) == 10, what="only sol-rest's orders")
    rows = {r["name"]: r["state"] for r in ops.status()}
    assert rows == {"sol-rest": "stopped", "sol-clean": "stopped"}


def test_config_show_and_reload_say_when_file_and_grid_differ(ops: Ops) -> None:
    port = ops.grid("sol-d")
    assert ops.gk("start", "-d").returncode == 0
    wait_for(lambda: _live(ops, "sol-d", port) == 10, what="orders")
    shown = ops.gk("config", "show", "sol-d")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["running_grid"]["differs"] is False
    assert doc["running_grid"]["grid_lower_price"] == "90"

    moved = ops.gk("grid", "adjust", "sol-d", "--lower", "94", "--upper", "114", "--yes")
    assert moved.returncode == 0, moved.stderr
    assert "config file still has the old range" in moved.stdout
    shown = ops.gk("config", "show", "sol-d")
    doc = json.loads(shown.stdout)
    assert doc["strategy_config"]["grid_lower_price"] == "90"
    assert doc["running_grid"] == {
        "grid_lower_price": "94",
        "grid_upper_price": "114",
        "grid_num": 11,
        "differs": True,
    }
    assert "running grid's range wins" in shown.stderr

    dry = ops.gk("reload", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "sol-d: running range 94-114 (11) differs from the file's 90-110 (11)" in dry.stdout
    assert "wins" in dry.stdout
    report = json.loads(ops.gk("reload", "--dry-run", "--json").stdout)
    [drift] = report["range_differs"]
    assert drift["differs"] is True and drift["wins"] == "running"

    saved = ops.gk("grid", "adjust", "sol-d", "--lower", "94", "--upper", "114", "--yes", "--save")
    assert saved.returncode == 0, saved.stderr
    assert json.loads(ops.gk("config", "show", "sol-d").stdout)["running_grid"]["differs"] is False
    checked = ops.gk("config", "check", "--offline", "--json")
    assert checked.returncode == 0, checked.stderr
    files = json.loads(checked.stdout)["files"]
    assert any(f.get("file", "").endswith("sol-d.json") and f["ok"] for f in files)


def test_config_check_json_reports_errors(ops: Ops) -> None:
    bad = ops.root / "config" / "active" / "broken.json"
    bad.write_text('{"metadata": {"instance_id": "broken"}')
    checked = ops.gk("config", "check", "--offline", "--json", str(bad))
    assert checked.returncode == 2
    out = json.loads(checked.stdout)
    assert out["ok"] is False and "invalid JSON" in out["files"][0]["error"]


def test_stop_flatten_closes_the_position_before_the_process_stops(ops: Ops) -> None:
    port = ops.grid("sol-f")
    assert ops.gk("start", "-d").returncode == 0
    wait_for(lambda: _live(ops, "sol-f", port) == 10, what="orders")
    start = Decimal(ops.view("sol-f", port)["position"])
    ops.paper.set_price("SOL_USDC", "95.9")  # fills the buys at 98 and 96
    # Two buys fill (base fees make it a little under 2).
    wait_for(lambda: Decimal(ops.view("sol-f", port)["position"]) > start + 1, what="bought 2")
    bought = Decimal(ops.view("sol-f", port)["position"]) - start
    flat = ops.gk("stop", "sol-f", "--flatten")
    assert flat.returncode == 0, flat.stderr
    # Spot: what the grid bought is sold back; the inventory it started with is the account's.
    sold = Decimal(flat.stdout.split("closed the position (sold ")[1].split()[0])
    assert bought - Decimal("0.01") < sold <= bought
    assert "cancelled" in flat.stdout
    opened, history, _, _ = ops.paper.query("SOL_USDC")
    assert not opened
    assert any(o.order_type == "Market" and o.side == "Ask" for o in history)
    assert {r["name"]: r["state"] for r in ops.status()} == {"sol-f": "stopped"}
