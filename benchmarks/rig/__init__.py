"""Shared set-up for the bot benchmarks: a paper exchange on a manual price and grid bots on it.

Kept in a package (not a `benchmarks/*.py` file) so `make bench` does not run it as a benchmark.
Every process is started with the interpreter of this checkout, as the keeper starts them.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

SYMBOL = "SOL_USDC_PERP"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(
    check: Callable[[], bool],
    timeout: float = 30.0,
    what: str = "a condition",
    *,
    interval: float = 0.01,
) -> None:
    """Poll `check` until true; a server not up yet or a reply without the key counts as "not
    yet". A timed benchmark passes a short `interval`: the poll's lag adds to what it measures."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError, ValueError, KeyError):
            pass
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")


class PaperRig:
    """A paper exchange (manual price) in `root`, and grid bots started on it."""

    def __init__(
        self,
        root: Path,
        *,
        price: str = "100",
        profile: str | None = None,
        balance: str = "100000000",
        maker_fee_bps: str | None = "2",
    ) -> None:
        """`profile` and `maker_fee_bps` None: the paper exchange's own defaults."""
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.price = price
        self.profile = profile
        self.balance = balance
        self.maker_fee_bps = maker_fee_bps
        self._admin: dict[str, str] | None = None
        self._http = httpx.Client(timeout=10.0)

    def start_exchange(self) -> subprocess.Popen[bytes]:
        market = {
            "symbol": SYMBOL,
            "base_symbol": "SOL",
            "quote_symbol": "USDC",
            "market_type": "PERP",
            "initial_price": self.price,
        }
        if self.maker_fee_bps is not None:
            market["maker_fee_bps"] = self.maker_fee_bps
        paper: dict[str, Any] = {
            "markets": [market],
            "price_source": {"kind": "manual"},
            "accounts": [{"name": "demo", "balances": {"USDC": self.balance}}],
        }
        if self.profile is not None:
            paper["profile"] = self.profile
        (self.root / "px.json").write_bytes(orjson.dumps(paper))
        cmd = [sys.executable, "-m", "gridkeeper", "exchange", "--config"]
        cmd += [str(self.root / "px.json"), "--port", str(self.port), "--home", str(self.home)]
        proc = self._spawn(cmd)
        wait(lambda: self._http.get(f"{self.url}/api/v1/time").status_code == 200, what="exchange")
        return proc

    def bot_config(self, name: str, web_port: int, **strategy: Any) -> Path:
        active = self.root / "config" / "active"
        active.mkdir(parents=True, exist_ok=True)
        cfg = {
            "metadata": {
                "instance_id": name,
                "exchange": "paper",
                "symbol": SYMBOL,
                "strategy": "perp_grid",
            },
            "daemon_config": {"web_port": web_port},
            "exchange_config": {"base_url": self.url, "ws_url": f"ws://127.0.0.1:{self.port}/ws"},
            "strategy_config": {
                "grid_lower_price": 80,
                "grid_upper_price": 120,
                "grid_num": 41,
                "order_quantity": 1,
                **strategy,
            },
        }
        path = active / f"{name}.json"
        path.write_bytes(orjson.dumps(cfg))
        return path

    def start_bot(self, name: str, **strategy: Any) -> tuple[subprocess.Popen[bytes], int]:
        """A bot as the keeper starts it (`python -m gridkeeper bot --config ...`)."""
        web_port = free_port()
        path = self.bot_config(name, web_port, **strategy)
        cmd = [sys.executable, "-m", "gridkeeper", "bot", "--config", str(path)]
        proc = self._spawn([*cmd, "--home", str(self.home)])
        wait(
            lambda: self._http.get(f"http://127.0.0.1:{web_port}/health").status_code == 200,
            timeout=60,
            what=f"bot {name} healthy",
        )
        return proc, web_port

    @property
    def admin(self) -> dict[str, str]:
        if self._admin is None:
            token = (self.home / "paper" / "admin.token").read_text().strip()
            self._admin = {"Authorization": f"Bearer {token}"}
        return self._admin

    def bot_auth(self, name: str) -> dict[str, str]:
        """The header the bot `name`'s API asks for (its token, written before it answers)."""
        token = (self.home / "tokens" / f"{name}.token").read_text().strip()
        return {"Authorization": f"Bearer {token}"}

    def keys(self) -> dict[str, Any]:
        raw = (self.home / "paper" / "demo-account.json").read_bytes()
        data: dict[str, Any] = orjson.loads(raw)
        return data

    def set_price(self, price: str) -> None:
        r = self._http.post(
            f"{self.url}/_paper/price", headers=self.admin, json={"symbol": SYMBOL, "price": price}
        )
        r.raise_for_status()

    def _spawn(self, cmd: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            cmd, cwd=self.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._http.close()
