"""deploy/prometheus/alerts.yml and deploy/grafana/dashboard.json against the real thing.

A real keeper runs its built-in monitor (metrics on) and a real grid bot on the paper exchange;
`promtool check metrics` lints the monitor's real exposition; a real Prometheus scrapes it with
the shipped scrape config and alert rules, and every PromQL expression of the dashboard returns
a series, every metric an alert rule reads has one, and every rule evaluates without error.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.components import binary, prometheus
from tests.integration.operations.conftest import Ops
from tests.support import free_port, wait_for

pytestmark = pytest.mark.integration
DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "dashboard.json"
# A metric selector in PromQL: a name we export (or Prometheus's `up`), with its matchers.
SELECTOR = re.compile(r"\b(gridkeeper_[a-z0-9_]+|up)\b(\{[^}]*\})?(?!\s*\()")


def _promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), *args], capture_output=True, text=True, check=False, cwd=cwd
    )


def _alert_rules() -> list[dict[str, Any]]:
    import yaml

    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    """Every Prometheus expression of the dashboard: its panels' and its variables'."""
    board = json.loads(DASHBOARD.read_text())
    exprs = [
        t["expr"]
        for panel in board["panels"]
        if panel["datasource"]["type"] == "prometheus"
        for t in panel["targets"]
    ]
    for var in board["templating"]["list"]:
        if var["type"] == "query":
            # label_values(SELECTOR, label) lists the label's values on SELECTOR's series.
            m = re.fullmatch(r"label_values\((.+), *(\w+)\)", var["definition"])
            assert m, var["definition"]
            exprs.append(m.group(1))
    return exprs


def _instantiate(expr: str) -> str:
    """What Grafana sends: the variables at "All" and a rate window fitting a 1 s scrape."""
    return expr.replace("$host", ".*").replace("$grid", ".*").replace("$__rate_interval", "15s")


def _query(url: str, promql: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5)
    assert resp.status_code == 200, f"{promql}: {resp.text}"
    return list(resp.json()["data"]["result"])


def test_alert_rules_pass_promtool() -> None:
    """The rules file is valid, and its unit tests (alerts_test.yml) pass."""
    checked = _promtool("check", "rules", str(PROMETHEUS / "alerts.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 12 rules found" in checked.stdout
    tested = _promtool("test", "rules", "alerts_test.yml", cwd=PROMETHEUS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_dashboard_is_grafana_json_reading_our_metrics() -> None:
    """Every panel reads a metric we export (a renamed metric breaks this), with unique ids."""
    from gridkeeper.monitor.samples import METRICS

    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "gridkeeper-fleet" and board["schemaVersion"] >= 30
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    process = {"gridkeeper_keeper_process_cpu_seconds_total"}
    process.add("gridkeeper_keeper_process_resident_memory_bytes")
    for expr in _dashboard_exprs() + [r["expr"] for r in _alert_rules()]:
        for name, _ in SELECTOR.findall(expr):
            assert name == "up" or name in METRICS or name in process, (name, expr)


def _start_fleet_of_one(ops: Ops) -> tuple[int, int]:
    """The keeper with its monitor exporting on a free port, and one grid; (metrics, bot) ports."""
    metrics = free_port()
    settings = json.loads((ops.root / "config" / "daemon_config.json").read_text())
    settings["monitor"] = {
        "enabled": True,
        "interval": 1,
        "metrics_port": metrics,
        "restart_keeper": False,
    }
    (ops.root / "config" / "daemon_config.json").write_text(json.dumps(settings))
    bot = ops.grid("sol-a")
    started = ops.gk("start", "-d")
    assert started.returncode == 0, started.stderr
    wait_for(lambda: ops.view("sol-a", bot)["open_orders"], timeout=60, what="grid orders")
    return metrics, bot


def _scrape(port: int) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def test_dashboard_and_rules_against_a_real_prometheus(ops: Ops, tmp_path: Path) -> None:
    metrics, bot = _start_fleet_of_one(ops)
    text = wait_for(
        lambda: 'gridkeeper_grid_total_pnl{name="sol-a"' in (t := _scrape(metrics)) and t,
        timeout=60,
        what="the grid's metrics on /metrics",
        ignore=(httpx.HTTPError,),
    )
    # The exposition lints clean (counters end in _total, base units, no HELP missing).
    lint = subprocess.run(
        [binary("promtool"), "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr
    assert 'gridkeeper_grid_range_lower{name="sol-a",symbol="SOL_USDC"} 90.0' in text
    assert 'gridkeeper_grid_trading{name="sol-a",symbol="SOL_USDC"} 1.0' in text
    assert "gridkeeper_keeper_process_resident_memory_bytes " in text
    assert "node_" not in text and "_percent" not in text

    # The shipped Prometheus config and rules, scraping every second; the rules without their
    # `for:` so a condition shows as a firing alert at once.
    work = tmp_path / "prom"
    (work / "targets").mkdir(parents=True)
    config = (PROMETHEUS / "prometheus.yml").read_text()
    config = config.replace("scrape_interval: 15s", "scrape_interval: 1s")
    config = config.replace("evaluation_interval: 15s", "evaluation_interval: 1s")
    (work / "prometheus.yml").write_text(
        config.replace("refresh_interval: 30s", "refresh_interval: 1s")
    )
    rules = re.sub(r"\n\s+for: \w+", "", (PROMETHEUS / "alerts.yml").read_text())
    (work / "alerts.yml").write_text(rules)
    (work / "targets" / "hosts.json").write_text(
        json.dumps([{"targets": [f"127.0.0.1:{metrics}"], "labels": {"host": "vps-test"}}])
    )
    with prometheus(work / "prometheus.yml", work) as prom:
        # Rates need two scrapes in their window: wait until every expression has a series.
        for expr in _dashboard_exprs():
            promql = _instantiate(expr)
            rows = wait_for(
                lambda q=promql: _query(prom.url, q),
                timeout=60,
                what=f"a series for {promql}",
                ignore=(httpx.HTTPError,),
            )
            assert all(r["metric"].get("host", "vps-test") == "vps-test" for r in rows), rows
        for rule in _alert_rules():
            _query(prom.url, rule["expr"])  # parses and evaluates
            for name, matchers in SELECTOR.findall(rule["expr"]):
                assert _query(prom.url, name + matchers), f"{rule['alert']}: no {name}"

        def rules_evaluated() -> list[dict[str, Any]]:
            data = httpx.get(f"{prom.url}/api/v1/rules", timeout=5).json()["data"]
            found = [r for g in data["groups"] for r in g["rules"]]
            return found if all(r.get("lastEvaluation", "").startswith("20") for r in found) else []

        evaluated = wait_for(rules_evaluated, timeout=30, what="every rule evaluated")
        assert len(evaluated) == len(_alert_rules())
        assert all(r["health"] == "ok" for r in evaluated), evaluated

        # A paused grid: GridNotTrading fires for it, through the real scrape and rules.
        ops.post("sol-a", bot, "/api/pause")

        def not_trading() -> list[dict[str, Any]]:
            alerts = httpx.get(f"{prom.url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == "GridNotTrading"]

        fired = wait_for(not_trading, timeout=60, what="GridNotTrading firing")
        assert fired[0]["labels"]["name"] == "sol-a" and fired[0]["labels"]["host"] == "vps-test"
        assert fired[0]["annotations"]["summary"] == "vps-test/sol-a is paused or stopped"
    shutil.rmtree(work, ignore_errors=True)
