"""A real paper exchange subprocess (manual prices) and real bot subprocesses against it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.models import Fill, Order, OrderRequest, Position
from tests import support
from tests.support import free_port

AUTO = "auto"  # post(): use the bot's own token
# The bot tests run against the unkind paper exchange (partial fills, 202 cancels, history lag,
# 429s, spread); GRIDKEEPER_PAPER_PROFILE=kind runs them against the kind one.
PAPER_PROFILE = os.environ.get("GRIDKEEPER_PAPER_PROFILE", "realistic")

PAPER_CONFIG: dict[str, Any] = {
    "markets": [
        {
            "symbol": "SOL_USDC",
            "base_symbol": "SOL",
            "quote_symbol": "USDC",
            "market_type": "SPOT",
            "tick_size": "0.01",
            "step_size": "0.01",
            "min_quantity": "0.01",
            "maker_fee_bps": "2",
            "taker_fee_bps": "5",
            "initial_price": "100",
        },
        {
            "symbol": "SOL_USDC_PERP",
            "base_symbol": "SOL",
            "quote_symbol": "USDC",
            "market_type": "PERP",
            "tick_size": "0.01",
            "step_size": "0.01",
            "min_quantity": "0.01",
            "maker_fee_bps": "2",
            "taker_fee_bps": "5",
            "initial_margin": "0.1",
            "initial_price": "100",
        },
    ],
    "price_source": {"kind": "manual"},
    "accounts": [{"name": "demo", "balances": {"USDC": "100000", "SOL": "1000"}}],
}


def wait_for(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll until truthy; a bot or exchange not answering yet counts as "not yet"."""
    return support.wait_for(
        check, timeout, what, ignore=(httpx.HTTPError, OSError, KeyError, ValueError), interval=0.05
    )


@dataclass
class Paper:
    url: str
    home: Path
    proc: subprocess.Popen[bytes]

    @property
    def admin(self) -> dict[str, str]:
        token = (self.home / "paper" / "admin.token").read_text().strip()
        return {"Authorization": f"Bearer {token}"}

    def set_price(self, symbol: str, price: str) -> dict[str, Any]:
        r = httpx.post(
            f"{self.url}/_paper/price",
            json={"symbol": symbol, "price": price},
            headers=self.admin,
            timeout=10,
        )
        r.raise_for_status()
        result: dict[str, Any] = r.json()
        return result

    def trade(self, symbol: str, side: str, quantity: str) -> D:
        """A manual market order on the bots' account (what an operator might do by hand).

        On the realistic profile's thin book a market order takes what the book holds and the
        rest expires; like an operator, send the rest again once the book has refilled (a price
        update regenerates it). Returns the quantity executed."""

        async def go() -> D:
            key, secret = self._keys()
            done = D(0)
            async with BackpackClient(self.url, key, secret) as client:
                for _ in range(50):
                    rest = D(quantity) - done
                    req = OrderRequest(symbol, side, "Market", rest)  # type: ignore[arg-type]
                    done += (await client.execute_order(req)).executed_quantity
                    if done >= D(quantity):
                        return done
                    last = (await client.get_ticker(symbol)).last_price
                    self.set_price(symbol, str(last))
            raise AssertionError(f"manual {side} {quantity} {symbol}: only {done} executed")

        return asyncio.run(go())

    def _keys(self) -> tuple[str, str]:
        data = orjson.loads((self.home / "paper" / "demo-account.json").read_bytes())
        return str(data["api_key"]), str(data["api_secret"])

    def query(self, symbol: str) -> tuple[list[Order], list[Order], list[Fill], list[Position]]:
        """(open orders, order history, fills, positions) as the exchange sees them."""

        async def go() -> tuple[list[Order], list[Order], list[Fill], list[Position]]:
            key, secret = self._keys()
            async with BackpackClient(self.url, key, secret) as client:
                opened = await client.get_open_orders(symbol)
                history = await client.get_order_history(symbol, limit=1000)
                fills = await client.get_fills(symbol, limit=1000)
                positions = await client.get_positions()
                return opened, history, fills, positions

        return asyncio.run(go())


@pytest.fixture
def paper_config() -> dict[str, Any]:
    """The paper exchange's config; a test module overrides this fixture to change markets."""
    return PAPER_CONFIG


@pytest.fixture
def paper(tmp_path: Path, paper_config: dict[str, Any]) -> Iterator[Paper]:
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "paper_exchange.json"
    config.write_bytes(orjson.dumps({"profile": PAPER_PROFILE, **paper_config}))
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gridkeeper",
            "exchange",
            "--config",
            str(config),
            "--port",
            str(port),
            "--home",
            str(home),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    ex = Paper(f"http://127.0.0.1:{port}", home, proc)
    try:
        wait_for(
            lambda: (
                httpx.get(f"{ex.url}/api/v1/ticker?symbol=SOL_USDC", timeout=2).status_code == 200
            ),
            what="paper exchange",
        )
        yield ex
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


@dataclass
class Bot:
    name: str
    project: Path
    home: Path
    port: int
    config_path: Path
    proc: subprocess.Popen[bytes] | None = None
    log: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return (self.home / "tokens" / f"{self.name}.token").read_text().strip()

    def start(self, *, wait: bool = True) -> Bot:
        log_path = self.project / f"{self.name}-{len(self.log)}.log"
        self.log.append(log_path)
        with log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gridkeeper",
                    "bot",
                    "--config",
                    str(self.config_path),
                    "--home",
                    str(self.home),
                ],
                cwd=self.project,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if wait:
            wait_for(lambda: self.get("/health").get("status") == "healthy", what="bot healthy")
        return self

    def get(self, path: str) -> dict[str, Any]:
        """A read with the bot's token (every endpoint but /health needs it)."""
        headers = {} if path == "/health" else {"Authorization": f"Bearer {self.token}"}
        result: dict[str, Any] = httpx.get(self.url + path, headers=headers, timeout=5).json()
        return result

    def post(self, path: str, body: Any = None, *, token: str | None = AUTO) -> httpx.Response:
        headers = {}
        if token == AUTO:
            headers["Authorization"] = f"Bearer {self.token}"
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.post(self.url + path, json=body or {}, headers=headers, timeout=10)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        return self.proc.wait(timeout=15)

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.log if p.exists())


@pytest.fixture
def make_bot(paper: Paper, tmp_path: Path) -> Iterator[Callable[..., Bot]]:
    bots: list[Bot] = []
    project = tmp_path / "project"
    (project / "config" / "active").mkdir(parents=True)

    def make(name: str, symbol: str = "SOL_USDC", strategy: str = "grid", **strat: Any) -> Bot:
        port = free_port()
        config = {
            "metadata": {
                "instance_id": name,
                "exchange": "paper",
                "symbol": symbol,
                "strategy": strategy,
            },
            "daemon_config": {"web_port": port},
            "exchange_config": {
                "base_url": paper.url,
                "ws_url": paper.url.replace("http", "ws") + "/ws",
            },
            "strategy_config": {
                "grid_lower_price": "90",
                "grid_upper_price": "110",
                "grid_num": 11,
                "order_quantity": "1",
                "poll_interval_s": 0.2,
                "reconcile_interval_s": 1.0,
                **strat,
            },
        }
        path = project / "config" / "active" / f"{name}.json"
        path.write_bytes(orjson.dumps(config))
        bot = Bot(name, project, paper.home, port, path)
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        bot.stop()
