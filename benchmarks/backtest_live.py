"""The live baseline of benchmarks/backtest.py: the same prices through the real bot.

A paper exchange (kind profile, manual prices) and a real bot (the benchmark's grid, polling as
fast as it will: `poll_interval_s` 0.01) run as processes on 127.0.0.1. Each price of the slice
is set with `POST /_paper/price`, then the driver waits until the bot has completed two loops
after it (the first may have started before the move; the second saw it and acted): the fastest
replay in which the live bot still acts on every price, as the backtester does. The time per
bar is extrapolated to the whole run.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson

SYMBOL = "SOL_USDC_PERP"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError, ValueError, KeyError):
            pass
        time.sleep(0.002)
    raise RuntimeError(f"timed out waiting for {what}")


def replay_live(
    strategy_config: dict[str, Any], prices: list[Decimal]
) -> tuple[float, int, dict[str, Any]]:
    """(seconds for the prices after the first, fills, the bot's final /api/grid)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home = root / "home"
        home.mkdir()
        paper = {
            "profile": "kind",
            "markets": [
                {
                    "symbol": SYMBOL,
                    "base_symbol": "SOL",
                    "quote_symbol": "USDC",
                    "market_type": "PERP",
                    "initial_price": str(prices[0]),
                }
            ],
            "price_source": {"kind": "manual"},
            "accounts": [{"name": "demo", "balances": {"USDC": "1000000000"}}],
        }
        (root / "px.json").write_bytes(orjson.dumps(paper))
        px_port, bot_port = _free_port(), _free_port()
        url = f"http://127.0.0.1:{px_port}"
        procs: list[subprocess.Popen[bytes]] = []
        py = sys.executable
        try:
            procs.append(
                subprocess.Popen(
                    [
                        py,
                        "-m",
                        "gridkeeper",
                        "exchange",
                        "--config",
                        str(root / "px.json"),
                        "--port",
                        str(px_port),
                        "--home",
                        str(home),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            _wait(lambda: httpx.get(f"{url}/api/v1/time").status_code == 200, "the exchange")
            active = root / "config" / "active"
            active.mkdir(parents=True)
            bot_cfg = {
                "metadata": {
                    "instance_id": "bench",
                    "exchange": "paper",
                    "symbol": SYMBOL,
                    "strategy": "perp_grid",
                },
                "daemon_config": {"web_port": bot_port},
                "exchange_config": {"base_url": url, "ws_url": f"ws://127.0.0.1:{px_port}/ws"},
                "strategy_config": {**strategy_config, "poll_interval_s": 0.01},
            }
            (active / "bench.json").write_bytes(orjson.dumps(bot_cfg))
            procs.append(
                subprocess.Popen(
                    [
                        py,
                        "-m",
                        "gridkeeper",
                        "bot",
                        "--config",
                        str(active / "bench.json"),
                        "--home",
                        str(home),
                    ],
                    cwd=root,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            return _drive(url, home, f"http://127.0.0.1:{bot_port}", prices)
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(timeout=10)


def _drive(
    url: str, home: Path, bot: str, prices: list[Decimal]
) -> tuple[float, int, dict[str, Any]]:
    tokens = home / "tokens"
    _wait(lambda: (tokens / "bench.token").exists(), "the bot's token")
    bot_auth = {"Authorization": "Bearer " + (tokens / "bench.token").read_text().strip()}
    admin_token = (home / "paper" / "admin.token").read_text().strip()
    admin = {"Authorization": "Bearer " + admin_token}
    with httpx.Client(timeout=10) as http:

        def detailed() -> dict[str, Any]:
            result: dict[str, Any] = http.get(f"{bot}/health/detailed", headers=bot_auth).json()
            return result

        def grid() -> dict[str, Any]:
            result: dict[str, Any] = http.get(f"{bot}/api/grid", headers=bot_auth).json()
            return result

        _wait(lambda: len(grid()["open_orders"]) > 0, "the bot's grid")

        def two_loops_after(moved_at: float) -> None:
            seen: set[float] = set()

            def check() -> bool:
                at = detailed().get("last_loop_at")
                if at is not None and at > moved_at:
                    seen.add(at)
                return len(seen) >= 2

            _wait(check, "two bot loops")

        two_loops_after(time.time())
        started = time.perf_counter()
        for price in prices[1:]:
            r = http.post(
                f"{url}/_paper/price", headers=admin, json={"symbol": SYMBOL, "price": str(price)}
            )
            r.raise_for_status()
            two_loops_after(time.time())
        took = time.perf_counter() - started
        return took, int(detailed()["fills"]), grid()
