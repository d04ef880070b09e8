"""`gridkeeper new` through a pseudo-terminal (and by flags) against a real paper exchange."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, wait_for
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

# Demo account: 10000 USDC, 100 SOL; maker fee 2 bps; tick/step/minimum 0.01; price 150.
PAPER = {
    "markets": [
        {"symbol": "SOL_USDC", "base_symbol": "SOL", "quote_symbol": "USDC",
         "market_type": "SPOT", "maker_fee_bps": "2", "initial_price": "150"},
        {"symbol": "SOL_USDC_PERP", "base_symbol": "SOL", "quote_symbol": "USDC",
         "market_type": "PERP", "maker_fee_bps": "2", "initial_margin": "0.1",
         "initial_price": "150"},
    ],
    "price_source": {"kind": "manual"},
    "accounts": [{"name": "demo", "balances": {"USDC": "10000", "SOL": "100"}}],
}  # fmt: skip


class Rig:
    def __init__(self, root: Path, url: str, env: dict[str, str]) -> None:
        self.root, self.url, self.env = root, url, env

    @property
    def active(self) -> Path:
        return self.root / "config" / "active"

    def gk(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "gridkeeper", *args]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.gk(*args), cwd=self.root, env=self.env, capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=60, check=False,
        )  # fmt: skip


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDKEEPER_")}
    env["GRIDKEEPER_HOME"] = str(home)
    env.pop("BACKPACK_KEY", None)
    env.pop("BACKPACK_SECRET", None)
    config = tmp_path / "paper.json"
    config.write_text(json.dumps(PAPER))
    port = free_port()
    argv = [sys.executable, "-m", "gridkeeper", "exchange", "--config", str(config)]
    proc = subprocess.Popen(
        [*argv, "--port", str(port), "--home", str(home)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(url + "/api/v1/markets", timeout=2).status_code == 200,
                 what="paper exchange", ignore=(httpx.HTTPError,))  # fmt: skip
        wait_for(lambda: (home / "paper" / "demo-account.json").exists(), what="demo account")
        r = Rig(tmp_path, url, env)
        assert r.run("init").returncode == 0
        yield r
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_wizard_refuses_each_bad_answer_then_writes_a_checked_config(rig: Rig) -> None:
    term = Terminal(rig.gk("new", "--url", rig.url), rig.root, rig.env)
    try:
        term.expect("exchange (paper/backpack)")
        term.send("")  # default: paper
        term.expect("market type (spot/perp)")
        term.send("perp")
        term.expect("perp markets: SOL_USDC_PERP")
        term.expect("symbol")
        term.send("BTC_USDC_PERP")
        term.expect("refused: 'BTC_USDC_PERP' is not one of SOL_USDC_PERP")
        term.send("SOL_USDC_PERP")
        term.expect("grid type (neutral/long/short)")
        term.send("long")
        term.expect("SOL_USDC_PERP: price 150")
        term.expect("maker fee 0.02%")
        term.expect("suggested range: 142.50 - 157.50")
        term.expect("lower price [142.50]")
        term.send("10")
        term.expect("refused: 10 is below the price band")
        term.send("140")
        term.expect("upper price [157.50]")
        term.send("160")
        term.expect("levels (price points) [10]")
        term.send("1000")
        term.expect("does not cover twice the maker fee")
        term.send("11")
        term.expect("quantity per level [0.01]")
        term.send("0.001")
        term.expect("below the market's minimum quantity (0.01)")
        term.send("100")
        # Long: 5 buys below 150 at 140..148 -> 720 x 100 = 72000 notional, 7200 margin: fits;
        # neutral would not. 200 is too much even for a long grid.
        term.expect("margin at 10% of 72000 notional (long)")
        term.expect("name [paper-sol-perp-grid]")
        term.send("")
        term.expect("wrote ")
        term.expect("ok  ")
        term.expect("start it:  gridkeeper start -d --config")
        assert term.close() == 0
    finally:
        term.close() if term.proc.poll() is None else None
    doc = json.loads((rig.active / "paper-sol-perp-grid.json").read_text())
    assert doc["metadata"]["strategy"] == "perp_grid"
    assert doc["daemon_config"]["depends_on"] == ["paper-exchange"]
    assert doc["exchange_config"] == {"base_url": rig.url}
    strat = doc["strategy_config"]
    assert (strat["grid_lower_price"], strat["grid_upper_price"], strat["grid_num"]) == (
        "140", "160", 11)  # fmt: skip
    assert (strat["grid_type"], strat["order_quantity"]) == ("long", "100")
    assert rig.run("config", "check").returncode == 0


def test_wizard_refuses_capital_the_account_does_not_have(rig: Rig) -> None:
    term = Terminal(
        rig.gk("new", "--url", rig.url, "--exchange", "paper", "--market-type", "spot",
               "--symbol", "SOL_USDC", "--lower", "140", "--upper", "160", "--levels", "11"),
        rig.root, rig.env,
    )  # fmt: skip
    try:
        term.expect("quantity per level")
        term.send("50")  # 5 buys x 50 at 140..148 = 36000 USDC; 5 sells x 50 = 250 SOL
        term.expect("refused: not enough capital: USDC 36000 needed, 10000 available; SOL 250")
        term.send("1")
        table = term.expect("name [paper-sol-spot-grid]")
        assert re.search(r"USDC\s+720\s+10000\s+5 buys below 150", table), table
        assert re.search(r"SOL\s+5\s+100\s+5 sells above 150", table), table
        term.send("mine")
        term.expect("start it:")
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            term.close()
    assert json.loads((rig.active / "mine.json").read_text())["strategy_config"][
        "order_quantity"] == "1"  # fmt: skip


def test_flags_refuse_and_dry_run_prints_without_writing(rig: Rig) -> None:
    base = ["new", "--url", rig.url, "--exchange", "backpack", "--symbol", "SOL_USDC",
            "--lower", "140", "--upper", "160", "--levels", "11"]  # fmt: skip
    for extra, reason in (
        (["--levels", "1000"], "does not cover twice the maker fee"),
        (["--quantity", "0.001"], "below the market's minimum quantity"),
    ):
        done = rig.run(*base, *extra)
        assert done.returncode == 2, done.stdout + done.stderr
        assert reason in done.stderr
    # Backpack without keys: fees are assumed (0.1%/side) and balances unknown ("?").
    done = rig.run(*base, "--quantity", "0.5", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "assumed" in done.stdout and "?" in done.stdout
    doc = json.loads(done.stdout[done.stdout.index("{") :])
    assert doc["exchange_config"]["api_key"] == "${BACKPACK_KEY}"
    assert doc["exchange_config"]["api_secret"] == "${BACKPACK_SECRET}"
    assert doc["metadata"]["exchange"] == "backpack"
    assert sorted(p.name for p in rig.active.iterdir()) == ["paper_exchange.json"]
