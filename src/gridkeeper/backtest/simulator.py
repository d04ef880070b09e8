"""The backtest driver: the bot's GridStrategy and Executor on the paper Engine, simulated time.

What the live bot does each loop (`BotRunner._cycle`) is done here without I/O: read the new
fills (`reconcile.apply_fills`, or `reconcile.reconcile` when an order of ours closed without our
asking), read the book's top (the paper exchange's own synthetic book), `strategy.on_price`, send
the actions through the bot's `Executor` (on `SimClient`), then `strategy.check_exits`. The runner
mixes these with HTTP, sleeping and the wall clock, so this is a thin simulated-time copy of its
loop (no code of the strategy is re-implemented).

Each price step is played until it has *settled*: cycles run until one applies no fill and sends
nothing — the state the live bot reaches after a price move however its loop is timed. A step
that provably changes nothing (no fill, no risk limit reached, no waiting level the new price
lets rest) skips the cycle; see shortcuts.py.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from gridkeeper.backtest.capital import grid_capital, quote_need
from gridkeeper.backtest.model import (
    ACCOUNT,
    MAX_ROUNDS,
    NOTABLE,
    ZERO,
    BacktestError,
    SimFill,
    SimSetup,
    _s,
)
from gridkeeper.backtest.shortcuts import after_settle, quiet, settled
from gridkeeper.backtest.simclient import SimClient, run_sync, to_fill, to_order
from gridkeeper.bot.actions import Action
from gridkeeper.bot.client_ids import CLOSE_SLOT, free_tag
from gridkeeper.bot.execution import Executor
from gridkeeper.bot.grid import GridError
from gridkeeper.bot.reconcile import apply_fills, apply_funding, reconcile
from gridkeeper.bot.runner import market_spec
from gridkeeper.bot.state import TrackedOrder
from gridkeeper.bot.strategy import GridStrategy
from gridkeeper.exchange.models import Fill, FundingPayment, Market
from gridkeeper.exchange.paper import perp
from gridkeeper.exchange.paper.engine import Engine
from gridkeeper.exchange.paper.marketdata import synthetic_book
from gridkeeper.exchange.paper.serialize import d, market_json
from gridkeeper.exchange.paper.service import BPS, liquidity_model
from gridkeeper.exchange.paper.service import market_spec as paper_market_spec


class Simulator:
    def __init__(self, setup: SimSetup, *, shortcuts: bool = True) -> None:
        self.setup = setup
        cfg = setup.exchange
        markets = [paper_market_spec(m) for m in cfg.markets if m.symbol == setup.symbol]
        if not markets:
            raise BacktestError(f"the exchange config has no market {setup.symbol}")
        self.pspec = markets[0]
        if self.pspec.is_perp == setup.spot:
            kind = "grid" if self.pspec.is_perp is False else "perp_grid"
            raise BacktestError(f"market {setup.symbol} needs metadata.strategy {kind!r}")
        unkind = cfg.unkind
        # Accepted cancels and history delays are wall-clock effects the settled bot never sees.
        self.engine = Engine(
            [self.pspec],
            market_slippage=cfg.market_slippage_bps / BPS,
            liquidity=liquidity_model(unkind.liquidity),
            self_trade_prevention=unkind.self_trade_prevention,
            reduce_only_modify=unkind.reduce_only_modify,
        )
        self.engine.ensure_account(ACCOUNT, cfg.accounts[0].balances)
        self.client = SimClient(self.engine, ACCOUNT)
        maker, taker = self.pspec.maker_fee, self.pspec.taker_fee
        fee_bps = (maker * BPS, taker * BPS)
        # The bot reads its fees from the account in bps: the same Decimals, the same way.
        self.market: Market = Market.from_api(
            market_json(self.pspec), maker_fee=fee_bps[0] / BPS, taker_fee=fee_bps[1] / BPS
        )
        self.perps = cfg.perps
        self.issued: set[int] = set()
        self._strategy: GridStrategy | None = None
        self._executor: Executor | None = None
        self.fills: list[SimFill] = []
        self.events: list[dict[str, Any]] = []
        self.ranges: list[tuple[int, Decimal, Decimal]] = []
        self.idle: list[tuple[str, Decimal, int]] = []
        self.always = False  # this state needs a full cycle on every step
        self.round_trips = 0
        self.cycles = 0
        self.next_funding_ms: int | None = None
        self.last_cycle_ms = 0
        self.capital = ZERO
        self.levels: list[Decimal] = []
        # A step in the quiet band (fast.py) skips the engine: its move fills nothing, and the
        # next full step's `set_price` leaves the engine as every skipped one would have. Only a
        # smoothed perp mark (an average over every price) is advanced on each skipped price.
        self.smoothed_mark = self.pspec.is_perp and self.perps.mark_smoothing != 1
        # False: every price runs the full loop, and every settle its confirming cycle (the
        # reference the shortcuts are tested against).
        self.shortcuts = shortcuts
        self.reconciled = False
        self._read: dict[Decimal, Decimal] = {}
        self._tops: dict[Decimal, tuple[Decimal | None, Decimal | None]] = {}

    @property
    def strategy(self) -> GridStrategy:
        assert self._strategy is not None
        return self._strategy

    @property
    def executor(self) -> Executor:
        assert self._executor is not None
        return self._executor

    # ---- start ----------------------------------------------------------------------------
    def start(self, t: int, price: Decimal) -> None:
        """Lay the grid out at the first price, as `BotRunner._fresh` does for a new grid."""
        spec, symbol = self.pspec, self.setup.symbol
        self.client.now_ms = t
        price = max(spec.round_price(price), spec.tick_size)
        self.engine.set_price(symbol, price, t)
        self._mark(symbol)
        self.client.drain()
        price = _as_read(price)
        mspec = market_spec(self.market)
        cfg = self.setup.strategy
        if mspec.spot and cfg.grid_type == "short":
            raise BacktestError("strategy_config.grid_type: a spot grid cannot be short")
        try:
            if mspec.spot:
                inventory = self.client.base_available(mspec.base)
                strategy = GridStrategy.fresh(self.setup.name, cfg, mspec, price, inventory)
                need = quote_need(strategy, price)
                have = self.client.base_available(mspec.quote)
                if need > have:
                    raise BacktestError(
                        f"insufficient funds at start: the grid's buys need {need} "
                        f"{mspec.quote}, the account has {have}"
                    )
            else:
                strategy = GridStrategy.fresh(self.setup.name, cfg, mspec, price)
        except GridError as exc:
            raise BacktestError(f"strategy_config.{exc.field}: {exc}") from exc
        strategy.state.checkpoint_ms = t
        strategy.state.funding_checkpoint_ms = t
        # A fixed tag: ids only have to be unique within this run (and runs stay reproducible).
        strategy.state.id_tag = free_tag([], random.Random(0))
        strategy.state.quantity = strategy.grid.quantity
        self._strategy = strategy
        self._executor = Executor(self.client, strategy, self._save, sleep=_no_sleep)
        self.capital = self.setup.capital or grid_capital(
            strategy, price, self.pspec.initial_margin
        )
        self.levels = sorted(
            {s.buy for s in strategy.state.slots} | {s.sell for s in strategy.state.slots}
        )
        self.ranges.append((t, strategy.state.lower, strategy.state.upper))
        if not mspec.spot and self.perps.funding:
            self.next_funding_ms = perp.interval_end_ms(t, self.perps.funding_interval_s)
        self.settle(t, price)

    def _save(self, intents: list[TrackedOrder]) -> None:
        # The store's job live: remember every clientId issued (fills are ours by it).
        for order in intents:
            self.issued.add(order.client_id)

    # ---- one price step -------------------------------------------------------------------
    def read_price(self, raw: Decimal) -> Decimal:
        """A path price as the engine plays it (tick-rounded) and the bot reads it (cached)."""
        price = self._read.get(raw)
        if price is None:
            spec = self.pspec
            price = self._read[raw] = _as_read(max(spec.round_price(raw), spec.tick_size))
        return price

    def top_at(self, price: Decimal) -> tuple[Decimal | None, Decimal | None]:
        """The book's top right after the engine moved to `price` (nothing taken yet)."""
        top = self._tops.get(price)
        if top is None:
            top = self._tops[price] = self.book_top(price, fresh=True)
        return top

    def step(self, t: int, raw: Decimal) -> Decimal:
        spec, symbol = self.pspec, self.setup.symbol
        price = max(spec.round_price(raw), spec.tick_size)
        self.client.now_ms = t
        self.engine.set_price(symbol, price, t)
        self._mark(symbol)
        self.client.drain()
        price = _as_read(price)
        if self.next_funding_ms is not None and t >= self.next_funding_ms:
            self._fund(t)
        if self.shortcuts and quiet(self, price):
            st = self.strategy
            st.state.last_price = price
            st.bid, st.ask = self.book_top(price)
        else:
            self.settle(t, price)
        return price

    def _mark(self, symbol: str) -> None:
        if self.pspec.is_perp:
            perp.update_mark(self.engine, self.perps, symbol)

    def mark_quiet(self, price: Decimal) -> None:
        """A quiet price's move of a smoothed mark: `perp.update_mark` at that last price."""
        marks, symbol = self.engine.marks, self.setup.symbol
        marks[symbol] = perp.next_mark(self.perps, self.pspec, price, marks.get(symbol))

    def _fund(self, t: int) -> None:
        """Pay every funding interval that ended by `t` and book it as the bot does."""
        assert self.next_funding_ms is not None
        while self.next_funding_ms <= t:
            end = self.next_funding_ms
            _, payments = perp.pay_funding(self.engine, self.perps, end)
            mine = [
                FundingPayment(p.symbol, p.quantity, p.interval_end_ms, p.rate)
                for p in payments
                if p.account == ACCOUNT
            ]
            st = self.strategy
            for p in apply_funding(st.state, mine, self.setup.symbol):
                st.emit("funding", f"funding {p.quantity}", quantity=_s(p.quantity))
            self.next_funding_ms = end + self.perps.funding_interval_s * 1000
        self.client.drain()
        self._drain_events(t)

    def book_top(
        self, price: Decimal, *, fresh: bool = False
    ) -> tuple[Decimal | None, Decimal | None]:
        """The best bid and ask the bot reads from `/api/v1/depth` (the paper's own book);
        `fresh`: as right after a price move, before any taker consumed the model's depth."""
        if self.engine.liquidity is None:
            tick = self.pspec.tick_size
            return (price - tick if price - tick > 0 else None), price + tick
        taken = {} if fresh else self.engine.taken(self.setup.symbol)
        bids, asks = synthetic_book(self.pspec, price, 1, self.engine.liquidity, taken)
        return (bids[0][0] if bids else None), (asks[0][0] if asks else None)

    def settle(self, t: int, price: Decimal) -> None:
        for _ in range(MAX_ROUNDS):
            events = len(self.events)
            actions = self.cycle(t, price)
            if actions is None:
                break
            if self.shortcuts and settled(self, actions, events):
                break
        else:
            raise BacktestError(f"price {price} at {t} did not settle in {MAX_ROUNDS} cycles")
        after_settle(self, t)

    def cycle(self, t: int, price: Decimal) -> list[Action] | None:
        """One loop of the bot (`BotRunner._cycle` without I/O): None if nothing happened, else
        the actions it sent (the strategy's, then the invariant's)."""
        self.cycles += 1
        strategy, client = self.strategy, self.client
        self.reconciled = client.expired
        fills = [to_fill(f) for f in client.fills]
        client.fills = []
        orders = strategy.state.orders
        opening = {  # what each filled order was before the fill is applied
            f.client_id: (o.opening, o.slot)
            for f in fills
            if f.client_id is not None and (o := orders.get(f.client_id)) is not None
        }
        if client.expired:
            client.expired = False
            history = {
                o.client_id: to_order(o, history=True)
                for o in reversed(client.history(self.setup.symbol))
                if o.client_id is not None
            }
            report = reconcile(
                strategy,
                open_orders=client.open_orders(self.setup.symbol),
                fills=fills,
                issued=self.issued,
                seen=(),
                history=history,
                in_flight=self.executor.busy,
            )
            applied = report.applied
        elif fills:
            applied = apply_fills(strategy, fills, self.issued, ())
        else:
            applied = []  # apply_fills of nothing applies nothing
        self._record(applied, opening)
        bid, ask = self.book_top(price)
        actions = strategy.on_price(price, t, bid=bid, ask=ask)
        run_sync(self.executor.run(actions))
        exits = strategy.check_exits(t)
        run_sync(self.executor.run(exits))
        self._drain_events(t)
        if applied or actions or exits or client.fills or client.expired:
            return actions + exits
        return None

    def _record(self, applied: list[Fill], opening: dict[int, tuple[bool, int]]) -> None:
        # In the exchange's order (trade ids are numbers); the bot applies them sorted by
        # (time, trade id as a string), which this does not change.
        for fill in sorted(applied, key=lambda f: (f.timestamp_ms, _trade_no(f.trade_id))):
            known = opening.get(fill.client_id) if fill.client_id is not None else None
            is_open = None if known is None or known[1] == CLOSE_SLOT else known[0]
            if is_open is False:
                self.round_trips += 1
            self.fills.append(
                SimFill(
                    fill.timestamp_ms,
                    fill.side,
                    fill.price,
                    fill.quantity,
                    fill.fee,
                    fill.fee_symbol,
                    is_open,
                )
            )

    def _drain_events(self, t: int) -> None:
        st = self.strategy.state
        for event in self.strategy.drain_events():
            if event.kind in NOTABLE:
                self.events.append({"time": t, "kind": event.kind, "message": event.message})
        last = self.ranges[-1] if self.ranges else None
        if last is None or (last[1], last[2]) != (st.lower, st.upper):
            self.ranges.append((t, st.lower, st.upper))


def _as_read(price: Decimal) -> Decimal:
    """The price as the bot reads it from the ticker (`lastPrice`: no trailing zeros)."""
    return Decimal(d(price))


def _trade_no(trade_id: str) -> int:
    return int(trade_id) if trade_id.isdigit() else 0


async def _no_sleep(_seconds: float) -> None:
    return None
