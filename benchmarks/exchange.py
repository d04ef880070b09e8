"""Paper exchange throughput, each figure beside its baseline, in one run.

1. Orders/s accepted over HTTP (signed POST /api/v1/order through BackpackClient, committed to
   SQLite) beside a no-op POST endpoint served by the same stack (starlette + uvicorn, h11).
2. Price updates/s of the matching engine with 1,000 resting orders (a grid: every fill is
   replaced on the other side so the book stays at 1,000), pure in-process and with the SQLite
   commit the server does per update, and over HTTP (POST /_paper/price) beside the no-op.
3. The same with `profile: "realistic"` (book model, partial fills, self-trade prevention, ...):
   engine updates/s beside the model-off figure (target >= 0.5x), and signed orders/s through a
   realistic server (rate limit middleware installed, budget raised) beside the no-op (>= 0.8x).

Run: .venv/bin/python benchmarks/exchange.py [--orders N] [--updates N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gridkeeper.config.paper_exchange import PaperExchangeConfig
from gridkeeper.exchange import signing
from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.models import OrderRequest
from gridkeeper.exchange.paper.engine import Engine, OrderInput
from gridkeeper.exchange.paper.service import PaperExchange

SECRET, PUBLIC = signing.keygen()
CONCURRENCY = 16
RESTING = 1000


def bench_config(profile: str = "kind") -> PaperExchangeConfig:
    return PaperExchangeConfig.model_validate(bench_config_data(profile))


def bench_config_data(profile: str = "kind") -> dict[str, Any]:
    return {
        "profile": profile,
        # realistic, but a budget the benchmark does not hit: the middleware's cost is measured
        "unkind": {"rate_limit": {"requests": 10_000_000, "window_s": 1}},
        "markets": [
            {
                "symbol": "SOL_USDC",
                "base_symbol": "SOL",
                "market_type": "SPOT",
                "initial_price": "150",
                "min_multiplier": "0.1",
                "max_multiplier": "10",
            }
        ],
        "price_source": {"kind": "manual"},
        "accounts": [
            {
                "name": "bench",
                "api_secret": SECRET,
                "balances": {"USDC": "1000000000", "SOL": "10000000"},
            }
        ],
    }


def noop_app() -> Starlette:
    async def noop(request: Request) -> Response:
        await request.body()
        return Response(b"{}", media_type="application/json")

    return Starlette(routes=[Route("/noop", noop, methods=["POST"])])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(argv: list[str], health_url: str) -> subprocess.Popen[bytes]:
    """A server in its own process (so client and server do not share one GIL)."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(health_url, timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"server did not start: {argv}")


async def _run_concurrently(total: int, job: object) -> float:
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            await job(i)  # type: ignore[operator]

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return total / (time.perf_counter() - start)


async def http_orders(base_url: str, total: int) -> float:
    async with BackpackClient(base_url, PUBLIC, SECRET) as client:

        async def place(i: int) -> None:
            side = "Bid" if i % 2 else "Ask"
            price = Decimal("100.00") + Decimal(i % 500) / 100 if side == "Bid" else None
            price = price or Decimal("200.00") + Decimal(i % 500) / 100
            await client.execute_order(
                OrderRequest("SOL_USDC", side, "Limit", Decimal("0.01"), price, client_id=i)
            )

        return await _run_concurrently(total, place)


async def http_noop(url: str, total: int) -> float:
    body = b'{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"100","quantity":"1"}'
    async with httpx.AsyncClient() as client:

        async def post(i: int) -> None:
            response = await client.post(url + "/noop", content=body)
            response.raise_for_status()

        return await _run_concurrently(total, post)


async def http_prices(base_url: str, token: str, total: int) -> float:
    rng = random.Random(7)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:

        async def move(i: int) -> None:
            price = f"{150 + rng.uniform(-1, 1):.2f}"
            response = await client.post(
                base_url + "/_paper/price", json={"symbol": "SOL_USDC", "price": price}
            )
            response.raise_for_status()

        return await _run_concurrently(total, move)


def grid_engine(engine: Engine, account: str) -> None:
    for k in range(RESTING // 2):
        offset = Decimal(k + 1) / 20  # levels every 0.05 around 150
        for side, price in (("Bid", Decimal(150) - offset), ("Ask", Decimal(150) + offset)):
            req = OrderInput("SOL_USDC", side, "Limit", Decimal("0.01"), price=price)
            engine.place(account, req, 0)
    engine.drain()


def engine_updates(exchange: PaperExchange, total: int, *, commit: bool) -> float:
    engine, account = exchange.engine, exchange.accounts[0].api_key
    for order in engine.open_orders(account):
        engine.cancel(account, order.symbol, order.id, None, 0)
    engine.set_price("SOL_USDC", Decimal(150), 0)
    grid_engine(engine, account)
    exchange.commit()
    rng = random.Random(42)
    price = 150.0
    start = time.perf_counter()
    for step in range(total):
        price = min(160.0, max(140.0, price * (1 + rng.gauss(0, 0.0005))))
        fills = engine.set_price("SOL_USDC", Decimal(f"{price:.2f}"), step)
        if fills:
            changes = engine.drain()
            for fill in changes.fills:  # a grid: replace each fill one level on the other side
                side = "Ask" if fill.side == "Bid" else "Bid"
                level = fill.price + (Decimal("0.05") if side == "Ask" else Decimal("-0.05"))
                engine.place(
                    account, OrderInput("SOL_USDC", side, "Limit", fill.quantity, level), step
                )
            if commit:
                exchange.store.apply(engine, changes)
        if commit:
            exchange.commit()
    rate = total / (time.perf_counter() - start)
    assert len(engine.open_orders(account)) == RESTING
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=20000)
    parser.add_argument("--serve-noop", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_noop:
        uvicorn.run(noop_app(), host="127.0.0.1", port=args.serve_noop, log_level="warning",
                    access_log=False, lifespan="off")  # fmt: skip
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        python = sys.executable
        servers: list[subprocess.Popen[bytes]] = []
        urls: dict[str, str] = {}
        try:
            for profile in ("kind", "realistic"):
                config_file = home / f"{profile}.json"
                config_file.write_bytes(orjson.dumps(bench_config_data(profile)))
                port = free_port()
                urls[profile] = f"http://127.0.0.1:{port}"
                servers.append(spawn(
                    [python, "-m", "gridkeeper", "exchange", "--config", str(config_file),
                     "--home", str(home / profile), "--port", str(port)],
                    urls[profile] + "/health",
                ))  # fmt: skip
            noop_port = free_port()
            noop_url = f"http://127.0.0.1:{noop_port}"
            servers.append(
                spawn([python, __file__, "--serve-noop", str(noop_port)], noop_url + "/noop")
            )
            token = (home / "kind" / "paper" / "admin.token").read_text().strip()
            asyncio.run(http_noop(noop_url, 200))  # warm-up
            noop_rate = asyncio.run(http_noop(noop_url, args.orders))
            order_rate = asyncio.run(http_orders(urls["kind"], args.orders))
            real_order_rate = asyncio.run(http_orders(urls["realistic"], args.orders))
            price_rate = asyncio.run(http_prices(urls["kind"], token, args.orders))
        finally:
            for proc in servers:
                proc.terminate()
                proc.wait(10)
        local = PaperExchange(bench_config(), home / "local")
        pure_rate = engine_updates(local, args.updates, commit=False)
        stored_rate = engine_updates(local, args.updates // 4, commit=True)
        local.store.close()
        real = PaperExchange(bench_config("realistic"), home / "local-realistic")
        assert real.engine.liquidity is not None
        real_rate = engine_updates(real, args.updates, commit=False)
        real.store.close()

    print(f"HTTP, {CONCURRENCY} concurrent clients, {args.orders} requests per figure:")
    print(f"  no-op POST baseline (same stack)        {noop_rate:10.0f} req/s")
    print(f"  signed order POST accepted + stored     {order_rate:10.0f} orders/s"
          f"   ({order_rate / noop_rate:.2f}x of baseline)")  # fmt: skip
    print(f"  signed order POST, realistic profile    {real_order_rate:10.0f} orders/s"
          f"   ({real_order_rate / noop_rate:.2f}x of baseline, target >= 0.8x)")  # fmt: skip
    print(f"  price update (POST /_paper/price)       {price_rate:10.0f} updates/s"
          f"   ({price_rate / noop_rate:.2f}x of baseline)")  # fmt: skip
    print(f"Matching engine, {RESTING} resting orders (grid, fills replaced):")
    print(f"  pure engine                             {pure_rate:10.0f} updates/s")
    print(f"  engine + SQLite commit per update       {stored_rate:10.0f} updates/s"
          f"   ({stored_rate / pure_rate:.2f}x of pure)")  # fmt: skip
    print(f"  pure engine, book model on (realistic)  {real_rate:10.0f} updates/s"
          f"   ({real_rate / pure_rate:.2f}x of model off, target >= 0.5x)")  # fmt: skip


if __name__ == "__main__":
    main()
