"""Grid bot speed, each figure beside its baseline, in one run.

1. Strategy decisions/s on a replayed (seeded) price walk: `on_price` + the fills it causes,
   beside a no-op loop that walks the same series through the same matching code.
2. Fill-to-replacement-order latency on the paper exchange: from the price move that fills a grid
   order to the opposite order resting on the book, beside the baseline of one signed order POST
   followed by seeing it in the open orders (the floor any bot pays).

Run: .venv/bin/python benchmarks/grid.py [--prices N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rig import PaperRig

from gridkeeper.bot.state import TrackedOrder
from gridkeeper.bot.strategy import Cancel, GridStrategy, MarketSpec, Place
from gridkeeper.config.strategy import GridStrategyConfig
from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.models import Fill, OrderRequest

D = Decimal
HOT_PATH_TARGET = 1.5  # fill -> replacement p50, as a multiple of a bare POST -> visible p50
MARKET = MarketSpec(
    "SOL_USDC_PERP", "SOL", "USDC", False, D("0.01"), D("0.01"), D("0.01"), D("0.0002")
)


def price_series(n: int) -> list[Decimal]:
    rng = random.Random(42)
    price, out = 100.0, []
    for _ in range(n):
        price = min(129.0, max(71.0, price * (1 + rng.gauss(0, 0.004))))
        out.append(Decimal(f"{price:.2f}"))
    return out


def replay(prices: list[Decimal], decide: bool) -> tuple[float, int]:
    """Seconds for the series and decisions made; decide=False is the no-op baseline."""
    config = GridStrategyConfig(
        grid_lower_price=D(70),
        grid_upper_price=D(130),
        grid_num=61,
        order_quantity=D(1),
        boundary_tolerance=D(1),
    )
    strategy = GridStrategy.fresh("bench", config, MARKET, D(100))
    book: dict[int, TrackedOrder] = {}
    trade = 0

    def apply(actions: list[Place | Cancel]) -> None:
        for action in actions:
            if isinstance(action, Place):
                book[action.order.client_id] = action.order
                strategy.on_placed(action.order.client_id, str(action.order.client_id), "New", D(0))
            else:
                book.pop(action.client_id, None)
                strategy.on_gone(action.client_id, D(0))

    apply(strategy.plan(0))
    decisions = 0
    started = time.perf_counter()
    for step, price in enumerate(prices):
        crossed = [
            o
            for o in book.values()
            if o.price is not None
            and ((o.side == "Bid" and price <= o.price) or (o.side == "Ask" and price >= o.price))
        ]
        for order in crossed:
            del book[order.client_id]
            trade += 1
            if decide:
                strategy.on_fill(
                    Fill(
                        str(trade),
                        str(order.client_id),
                        order.client_id,
                        MARKET.symbol,
                        order.side,
                        order.price or price,
                        order.quantity,
                        D("0.02"),
                        "USDC",
                        True,
                        step,
                    )
                )
        if decide:
            apply(strategy.on_price(price, step))
            strategy.drain_events()
            decisions += 1
    return time.perf_counter() - started, decisions


def latency(rounds: int) -> tuple[list[float], list[float], list[float]]:
    """(price move -> replacement, fill -> replacement, baseline POST -> visible) seconds on a
    paper exchange. "Fill" is the exchange's own time of the fill (its fills record)."""
    with tempfile.TemporaryDirectory() as tmp:
        rig = PaperRig(Path(tmp), balance="1000000")
        try:
            rig.start_exchange()
            _, bot_port = rig.start_bot("bench", poll_interval_s=1.0)
            return asyncio.run(_measure(rig.url, rig.keys(), rig.admin, bot_port, rounds))
        finally:
            rig.close()


async def _measure(
    url: str, keys: dict[str, Any], admin: dict[str, str], bot_port: int, rounds: int
) -> tuple[list[float], list[float], list[float]]:
    symbol = "SOL_USDC_PERP"
    async with (
        BackpackClient(url, keys["api_key"], keys["api_secret"]) as client,
        httpx.AsyncClient() as http,
    ):
        deadline = time.monotonic() + 30
        while len(await client.get_open_orders(symbol)) < 40:
            if time.monotonic() > deadline:
                raise RuntimeError("the bot did not place its grid")
            await asyncio.sleep(0.05)
        moves: list[float] = []
        fills: list[float] = []
        price = D(100)
        for i in range(rounds):
            # Alternate down and up one level: each move fills one order of the grid.
            target = price - D("1.05") if i % 2 == 0 else price + D("1.05")
            before = {o.id for o in await client.get_open_orders(symbol)}
            started = time.perf_counter()
            r = await http.post(
                f"{url}/_paper/price", headers=admin, json={"symbol": symbol, "price": str(target)}
            )
            r.raise_for_status()
            while True:
                now = {o.id for o in await client.get_open_orders(symbol)}
                if now - before:
                    seen_wall = time.time()
                    break
                if time.perf_counter() - started > 10:
                    raise RuntimeError("no replacement order within 10 s")
            moves.append(time.perf_counter() - started)
            newest = max((await client.get_fills(symbol, limit=10)), key=lambda f: f.timestamp_ms)
            fills.append(seen_wall - newest.timestamp_ms / 1000)
            await asyncio.sleep(0.05)
        base: list[float] = []
        for i in range(rounds):
            started = time.perf_counter()
            order = await client.execute_order(
                OrderRequest(
                    symbol=symbol,
                    side="Bid",
                    order_type="Limit",
                    quantity=D(1),
                    price=D("60") + D(i) / 100,
                    client_id=4_000_000_000 + i,
                    post_only=True,
                )
            )
            while order.id not in {o.id for o in await client.get_open_orders(symbol)}:
                pass
            base.append(time.perf_counter() - started)
            await client.cancel_order(symbol, order_id=order.id)
        return moves, fills, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prices", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    prices = price_series(args.prices)
    base_s, _ = replay(prices, decide=False)
    ours_s, decisions = replay(prices, decide=True)
    print(
        f"strategy: {decisions / ours_s:,.0f} decisions/s over {len(prices):,} prices "
        f"(60 levels)  | baseline no-op replay: {len(prices) / base_s:,.0f} prices/s"
    )
    moves, fills, base = latency(args.rounds)

    def ms(values: list[float]) -> str:
        values = sorted(values)
        p90 = values[int(len(values) * 0.9) - 1]
        return f"p50 {statistics.median(values) * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms"

    print(f"baseline order POST -> visible: {ms(base)}")
    print(f"price move (admin POST) -> replacement order resting: {ms(moves)}")
    ratio = statistics.median(fills) / statistics.median(base)
    verdict = "met" if ratio <= HOT_PATH_TARGET else "missed"
    print(
        f"fill (exchange time) -> replacement order resting: {ms(fills)}  = {ratio:.2f}x the "
        f"bare POST p50; target <= {HOT_PATH_TARGET:g}x: {verdict}"
    )


if __name__ == "__main__":
    main()
