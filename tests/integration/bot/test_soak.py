"""The soak that judges issue 9: four grids, each on its own paper account, trade a driven path.

Spot, perp neutral, perp long and perp short grids run as real `gridkeeper bot` processes
against the real paper exchange on its realistic profile (book model with a spread, partial
fills, 202 cancels, history lag, mark price and funding) with a low rate limit, so 429s happen.
The price path leaves and re-enters the range, gaps while bots are down (kill -9, prices moved,
restart), and takes the long grid past its stop-loss while it is boundary-paused.

Judged from the exchange's own records:
- at every sampled moment while a grid trades (after each price step, once the bot has applied
  every fill the exchange has for it), the position it holds is at most its resting closing
  quantity (the invariant);
- at the end, every grid's total PnL equals its account's equity change at the mark price, its
  position equals the exchange's, and no clientId was used twice on the account.

What the spot grid "holds": its own inventory, i.e. the base it allocated at start (the sells
its levels above the start price need) plus what it bought since, fees in base deducted. The
account starts with `SPOT_EXTRA` base more than the grid allocates (a spot buy pays its fee in
base, so a bought unit arrives a hair short and the account's own base covers that sliver). From
the exchange that is: base balance (available + locked) - SPOT_EXTRA; its closing orders are the
account's resting asks. Fees in base make the held quantity fractional: less than one
`min_quantity` of it may lack an order (no order can carry it; the bot's own invariant treats it
as dust the same way). The extra base is the account's, not the grid's: it changes the
account's equity by SPOT_EXTRA x (price - start price), the one exact difference between the
spot grid's total PnL and its account's equity change.

Perps: the grid holds the account's net position on the symbol (one perp grid per account);
its closing orders are the resting reduce-only orders on the side that reduces it. The bot
values its position at the exchange's mark (read with the position), as the exchange does: its
`total_pnl` must equal the change of `netEquity` (funding paid every FUNDING_S seconds included)
to the exchange's 8 decimals, and an independent recomputation from the exchange's fills and
funding history exactly. The exchange's 429 count (`GET /_paper/stats`) proves the rate limit
was hit.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gridkeeper.exchange.client import BackpackClient
from gridkeeper.exchange.models import Fill, FundingPayment, Order
from gridkeeper.exchange.signing import keygen
from tests import support
from tests.support import free_port

from .conftest import PAPER_CONFIG, Bot, Paper

pytestmark = pytest.mark.integration

SPOT, PERP = "SOL_USDC", "SOL_USDC_PERP"
START = D(100)
QUOTE0 = D(100000)
SPOT_QTY, PERP_QTY = D(1), D("0.5")
SPOT_ALLOCATED = 5 * SPOT_QTY  # sells at 102, 104, 106, 108, 110 above the start price 100
SPOT_EXTRA = D("0.1")
LONG_STOP_LOSS = D(40)
FUNDING_S = 20
EIGHT = D("0.00000001")
MIN_QTY = D("0.01")  # both markets' min_quantity and step_size


@dataclass(frozen=True)
class Account:
    name: str
    symbol: str
    secret: str
    key: str
    strategy: str
    grid_type: str

    @property
    def spot(self) -> bool:
        return self.symbol == SPOT


def _account(name: str, symbol: str, grid_type: str) -> Account:
    secret, key = keygen()
    strategy = "grid" if symbol == SPOT else "perp_grid"
    return Account(name, symbol, secret, key, strategy, grid_type)


ACCOUNTS = [
    _account("spot", SPOT, "neutral"),
    _account("neutral", PERP, "neutral"),
    _account("long", PERP, "long"),
    _account("short", PERP, "short"),
]


@pytest.fixture
def paper_config() -> dict[str, Any]:
    """Four accounts; realistic profile with resting fills of 0.8 per level per update (partial
    fills: the perp grids share levels), a rate limit the bots' own bursts exceed, funding every
    FUNDING_S seconds."""
    accounts = [
        {
            "name": a.name,
            "api_key": a.key,
            "api_secret": a.secret,
            "balances": (
                {"USDC": str(QUOTE0), "SOL": str(SPOT_ALLOCATED + SPOT_EXTRA)}
                if a.spot
                else {"USDC": str(QUOTE0)}
            ),
        }
        for a in ACCOUNTS
    ]
    return {
        **PAPER_CONFIG,
        "profile": "realistic",
        "accounts": [{"name": "demo", "balances": {"USDC": "1000"}}, *accounts],
        "unkind": {
            "liquidity": {"trade_volume_per_level": "0.8"},
            "rate_limit": {"enabled": True, "requests": 24, "window_s": 2},
        },
        "perps": {"funding_interval_s": FUNDING_S},
    }


def wait_for(check: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll gently: every request the test makes counts against the accounts' rate limit."""
    return support.wait_for(
        check, timeout, what, ignore=(httpx.HTTPError, OSError, KeyError, ValueError), interval=0.3
    )


# ---- the exchange's records ------------------------------------------------------------------


def _run(account: Account, paper: Paper, go: Any) -> Any:
    async def main() -> Any:
        async with BackpackClient(paper.url, account.key, account.secret, max_retries=10) as c:
            return await go(c)

    return asyncio.run(main())


def held(account: Account, paper: Paper) -> D:
    """What the grid holds by the exchange's figures (see the module docstring)."""

    async def go(c: BackpackClient) -> D:
        if account.spot:
            base = (await c.get_balances()).get("SOL")
            return (base.available + base.locked if base else D(0)) - SPOT_EXTRA
        positions = await c.get_positions(PERP)
        return sum((p.net_quantity for p in positions if p.symbol == PERP), D(0))

    result: D = _run(account, paper, go)
    return result


def exits(account: Account, paper: Paper) -> tuple[D, D]:
    """(held position, resting closing quantity that reduces it), read together."""

    async def go(c: BackpackClient) -> tuple[D, D]:
        opened = await c.get_open_orders(account.symbol)
        if account.spot:
            base = (await c.get_balances()).get("SOL")
            position = (base.available + base.locked if base else D(0)) - SPOT_EXTRA
        else:
            positions = await c.get_positions(PERP)
            position = sum((p.net_quantity for p in positions if p.symbol == PERP), D(0))
        side = "Ask" if position > 0 else "Bid"
        closing = sum(
            (
                o.quantity - o.executed_quantity
                for o in opened
                if o.side == side and (account.spot or o.reduce_only)
            ),
            D(0),
        )
        return position, closing

    result: tuple[D, D] = _run(account, paper, go)
    return result


def records(account: Account, paper: Paper) -> tuple[list[Order], list[Fill], list[FundingPayment]]:
    """Every order, fill and funding payment of the account (paged)."""

    async def go(c: BackpackClient) -> tuple[list[Order], list[Fill], list[FundingPayment]]:
        orders: list[Order] = []
        while page := await c.get_order_history(account.symbol, limit=1000, offset=len(orders)):
            orders += page
        fills: list[Fill] = []
        while page_f := await c.get_fills(account.symbol, limit=1000, offset=len(fills)):
            fills += page_f
        funding: list[FundingPayment] = []
        if not account.spot:
            while page_p := await c.get_funding_payments(PERP, limit=1000, offset=len(funding)):
                funding += page_p
        return orders, fills, funding

    result: tuple[list[Order], list[Fill], list[FundingPayment]] = _run(account, paper, go)
    return result


def fills_count(account: Account, paper: Paper) -> int:
    async def go(c: BackpackClient) -> int:
        return len(await c.get_fills(account.symbol, limit=1000))

    result: int = _run(account, paper, go)
    return result


def equity(account: Account, paper: Paper) -> tuple[D, D]:
    """(equity as the exchange values it, the price it used): perp `netEquity` at the mark;
    spot the balances at the last price."""

    async def go(c: BackpackClient) -> tuple[D, D]:
        if account.spot:
            balances = await c.get_balances()
            last = (await c.get_ticker(SPOT)).last_price
            usdc, sol = balances["USDC"], balances["SOL"]
            return usdc.available + usdc.locked + (sol.available + sol.locked) * last, last
        collateral = await c.get_collateral()
        marks = httpx.get(f"{paper.url}/api/v1/markPrices", params={"symbol": PERP}).json()
        return D(collateral["netEquity"]), D(marks[0]["markPrice"])

    result: tuple[D, D] = _run(account, paper, go)
    return result


# ---- the bots -----------------------------------------------------------------------------


@dataclass
class Grid:
    account: Account
    bot: Bot

    def view(self) -> dict[str, Any]:
        return self.bot.get("/api/grid")

    def kill9(self) -> None:
        assert self.bot.proc is not None
        os.kill(self.bot.proc.pid, signal.SIGKILL)
        self.bot.proc.wait(timeout=10)


def _grids(paper: Paper, project: Path) -> list[Grid]:
    (project / "config" / "active").mkdir(parents=True)
    grids = []
    for a in ACCOUNTS:
        port = free_port()
        strat: dict[str, Any] = {
            "grid_lower_price": "90",
            "grid_upper_price": "110",
            "grid_num": 11,
            "grid_type": a.grid_type,
            "order_quantity": str(SPOT_QTY if a.spot else PERP_QTY),
            "boundary_tolerance": "0.01",
            "poll_interval_s": 0.5,
            "reconcile_interval_s": 1.5,
        }
        if a.name == "long":
            strat |= {"stop_loss": str(LONG_STOP_LOSS), "stop_loss_action": "close"}
        config = {
            "metadata": {
                "instance_id": f"soak-{a.name}",
                "exchange": "paper",
                "symbol": a.symbol,
                "strategy": a.strategy,
            },
            "daemon_config": {"web_port": port},
            "exchange_config": {
                "base_url": paper.url,
                "ws_url": paper.url.replace("http", "ws") + "/ws",
                "api_key": a.key,
                "api_secret": a.secret,
            },
            "strategy_config": strat,
        }
        path = project / "config" / "active" / f"soak-{a.name}.json"
        path.write_bytes(orjson.dumps(config))
        grids.append(Grid(a, Bot(f"soak-{a.name}", project, paper.home, port, path)))
    return grids


@pytest.fixture
def grids(paper: Paper, tmp_path: Path) -> Iterator[list[Grid]]:
    made = _grids(paper, tmp_path / "project")
    yield made
    for g in made:
        g.bot.stop()


def start(grids: list[Grid]) -> None:
    for g in grids:
        g.bot.start(wait=False)
    for g in grids:
        wait_for(lambda g=g: g.bot.get("/health").get("status") == "healthy", what="bot healthy")


# ---- sampling -----------------------------------------------------------------------------


def open_ids(account: Account, paper: Paper) -> list[int]:
    """The clientIds of the account's open orders on its symbol, as the exchange lists them."""

    async def go(c: BackpackClient) -> list[int]:
        return sorted(o.client_id or 0 for o in await c.get_open_orders(account.symbol))

    result: list[int] = _run(account, paper, go)
    return result


def settled(g: Grid, paper: Paper, price: str) -> bool:
    """The bot has read `price`, applied every fill the exchange has for it, its position is
    the exchange's, every order it wants is acknowledged (nothing held back by a 429), and the
    orders it tracks are the ones open on the exchange (an order gone from the book whose
    history entry lags is unresolved: the bot waits for its next reconcile to learn its fills,
    and only then places what they imply)."""
    view = g.view()
    if view["last_price"] is None or D(view["last_price"]) != D(price):
        return False
    if any(o["status"] != "live" for o in view["open_orders"]):
        return False
    if sorted(o["client_id"] for o in view["open_orders"]) != open_ids(g.account, paper):
        return False
    detailed = g.bot.get("/health/detailed")
    if detailed["fills"] != fills_count(g.account, paper):
        return False
    return D(view["position"]) == held(g.account, paper)


def sample(
    grids: list[Grid], paper: Paper, price: str, samples: list[str], broken: list[str]
) -> None:
    """One sampled moment: every running bot settles at `price`, then the invariant must hold
    (a breach is collected, so the soak goes on and reports every one at the end)."""
    for g in grids:
        # Up to a full reconcile (10 s) after a gap: a fill the order stream missed is read
        # over REST then (docs/bot.md); 429s on the realistic profile can delay it once more.
        wait_for(
            lambda g=g: settled(g, paper, price),
            timeout=60,
            what=f"{g.account.name} settled at {price}",
        )
    for g in grids:
        if g.view()["status"] != "running":
            continue
        position, closing = exits(g.account, paper)
        # Spot: fees paid in base leave a sliver below one order (< min_quantity) no order can
        # carry; perp quantities are whole steps, so the comparison is exact.
        dust = MIN_QTY if g.account.spot else D(0)
        if abs(position) - closing > dust:
            broken.append(
                f"{g.account.name} at {price}: holds {position}, resting closes {closing}"
            )
        samples.append(f"{g.account.name}@{price}: {position} <= {closing}")


def move(paper: Paper, price: str) -> None:
    paper.set_price(SPOT, price)
    paper.set_price(PERP, price)


@pytest.mark.timeout(420)  # ~100 s alone; CI runs it beside the rest of the suite on 2 cores
def test_soak_four_grids_through_gaps_kills_and_a_stop_loss(
    paper: Paper, grids: list[Grid]
) -> None:
    spot, neutral, long, short = grids
    samples: list[str] = []
    broken: list[str] = []
    start(grids)
    assert D(spot.view()["position"]) == SPOT_ALLOCATED  # the grid's own inventory at start
    sample(grids, paper, "100", samples, broken)

    def step(*prices: str, up: list[Grid] = grids) -> None:
        for price in prices:
            move(paper, price)
            sample(up, paper, price, samples, broken)

    # Phase A: down through the buys, up through the closes and the sells.
    step("97", "95", "101", "105")
    # A gap while every bot is down: out of the range above, back in below the sells.
    for g in grids:
        g.kill9()
    for price in ("113", "108", "99"):
        move(paper, price)
    start(grids)
    step("99", "103", "96.5")
    # Two bots killed; the price falls through their buys while they are down.
    for g in (spot, short):
        g.kill9()
    step("93", "91", up=[neutral, long])
    start([spot, short])
    step("91")
    # Out of the range below: every grid pauses at the boundary with its position; the long
    # grid's loss is still under its stop-loss here.
    step("88")
    assert long.view()["status"] == "paused"
    # Further down while paused: the long grid's stop-loss fires, closes its position, stops.
    step("80")
    lv = wait_for(
        lambda: (v := long.view())["status"] == "stopped" and D(v["position"]) == 0 and v,
        what="the long grid stopped flat by its stop-loss",
    )
    assert "stop_loss" in lv["reason"]
    # A gap back into the range while two bots are down; the others resume by themselves.
    for g in (neutral, long):
        g.kill9()
    move(paper, "86")
    move(paper, "95")
    start([neutral, long])
    step("95", "99", "102", "102")
    assert {g.account.name: g.view()["status"] for g in grids} == {
        "spot": "running",
        "neutral": "running",
        "long": "stopped",
        "short": "running",
    }
    failures = final_checks(grids, paper)
    # The unkind behaviours really happened.
    # The exchange's own count of 429s (`rate_limited_orders` also counts cancels, which the
    # bot retries on its next round without a `rate_limited` event, so it proves nothing more).
    stats = paper_stats(paper)
    if stats["rate_limited"] <= 0:
        failures.append(f"the exchange answered no 429 ({stats})")
    failures += [f"invariant broken: {b}" for b in broken]
    assert not failures, "\n".join(failures)
    assert len(samples) > 40


def paper_stats(paper: Paper) -> dict[str, int]:
    """The 429s the exchange answered: all of them, and those on order POSTs."""
    r = httpx.get(f"{paper.url}/_paper/stats", headers=paper.admin, timeout=10)
    r.raise_for_status()
    stats: dict[str, int] = r.json()
    return stats


def funding_total(a: Account, paper: Paper) -> D:
    if a.spot:
        return D(0)
    return sum((p.quantity for p in records(a, paper)[2]), D(0))


def pnl_funding(view: dict[str, Any]) -> D:
    return D(view["profit"]["funding"] or 0)


def pnl_snapshot(a: Account, g: Grid, paper: Paper) -> tuple[dict[str, Any], D, D] | None:
    """(the bot's view, the account's equity, the price it is valued at), read at one moment:
    no funding payment in between, and the bot has booked every payment."""
    before = funding_total(a, paper)
    view = g.view()
    eq, mark = equity(a, paper)
    if funding_total(a, paper) != before or pnl_funding(view) != before:
        return None
    return view, eq, mark


def final_checks(grids: list[Grid], paper: Paper) -> list[str]:
    """Every end-of-run check from the exchange's records; returns what failed."""
    failures: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            failures.append(what)

    partial = 0
    cancelled = 0
    for g in grids:
        a = g.account
        orders, fills, funding = records(a, paper)
        # No clientId used twice on the account.
        ids = Counter(o.client_id for o in orders)
        twice = [i for i, n in ids.items() if n > 1]
        check(not twice, f"{a.name}: clientIds used more than once: {twice}")
        per_order = Counter(f.order_id for f in fills)
        partial += sum(1 for n in per_order.values() if n > 1)
        cancelled += sum(1 for o in orders if o.status == "Cancelled")
        view = g.view()
        check(
            D(view["position"]) == held(a, paper),
            f"{a.name}: position {view['position']} != the exchange's {held(a, paper)}",
        )
        # Independent recomputation from the exchange's fills (and funding).
        cash = D(0)
        base = D(0)
        for f in fills:
            sign = 1 if f.side == "Bid" else -1
            cash -= sign * f.quantity * f.price
            base += sign * f.quantity
            if f.fee_symbol == "SOL":
                base -= f.fee
            else:
                cash -= f.fee
        cash += sum((p.quantity for p in funding), D(0))
        start_base = SPOT_ALLOCATED if a.spot else D(0)
        check(
            base == D(view["position"]) - start_base,
            f"{a.name}: fills net {base}, the grid's position {view['position']}",
        )
        funded = sum((p.quantity for p in funding), D(0))
        view, eq, mark = wait_for(
            lambda a=a, g=g: pnl_snapshot(a, g, paper), what=f"{a.name}: every funding booked"
        )
        pnl = D(view["profit"]["total_pnl"])
        position = D(view["position"])
        if a.spot:
            # Spot is valued at the last price, by the bot and here alike.
            at_mark = pnl + position * (mark - D(view["last_price"]))
        else:
            # The bot values a perp position at the exchange's mark: its total PnL must be the
            # equity change as it is, with the very mark the exchange uses.
            at_mark = pnl
            if position != 0:
                bot_mark = view["mark_price"]
                check(
                    bot_mark is not None and D(bot_mark) == mark,
                    f"{a.name}: the bot values at {bot_mark}, the exchange's mark is {mark}",
                )
        cash += pnl_funding(view) - funded  # payments made since the records were read
        if a.spot:
            change = eq - (QUOTE0 + (SPOT_ALLOCATED + SPOT_EXTRA) * START)
            grid_change = change - SPOT_EXTRA * (mark - START)
            check(grid_change == at_mark, f"{a.name}: equity change {grid_change} != PnL {at_mark}")
        else:
            change = eq - QUOTE0
            check(
                change == at_mark.quantize(EIGHT, ROUND_HALF_UP),
                f"{a.name}: netEquity change {change} != total PnL at the mark {at_mark}",
            )
            own = cash + base * mark
            check(own == at_mark, f"{a.name}: from fills and funding {own} != PnL {at_mark}")
    check(partial > 0, "no order filled in parts")
    check(cancelled > 0, "no cancel went through the exchange's delayed (202) path")
    return failures
