"""What every part of the grid's core shares: state, events, order ids, the book. Pure.

`GridBase` holds the grid's state and layout, collects events, issues client ids, answers
where a leg may rest (through `pricing`), and ends the closing phase. The planner
(`planning.GridPlanner`) and the outcome bookkeeping (`outcomes.OutcomeBook`) build on it;
`core.GridCore` joins them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gridkeeper.bot import pricing
from gridkeeper.bot.actions import BotEvent, MarketSpec, build_grid
from gridkeeper.bot.client_ids import instance_tag, make_client_id
from gridkeeper.bot.grid import GridLayout, floor_to
from gridkeeper.bot.invariant import ExitWatch
from gridkeeper.bot.params import StrategyConfig
from gridkeeper.bot.state import ZERO, GridState


class GridBase:
    """State, layout, events, ids and the book: what planning and bookkeeping both use."""

    def __init__(
        self, instance: str, config: StrategyConfig, market: MarketSpec, state: GridState
    ) -> None:
        self.instance = instance
        self.config = config
        self.market = market
        self.state = state
        self.events: list[BotEvent] = []
        self.grid = self._build(state.lower, state.upper, state.num)
        # The book's top, as last read (None: unknown, the last price stands in for it).
        self.bid: Decimal | None = None
        self.ask: Decimal | None = None
        # Sides the max_position gate holds back: logged when this changes, not every loop.
        self._held_back: set[str] = set()
        self._blocked: dict[str, tuple[Decimal, Decimal]] = {}
        self.exit_watch = ExitWatch()
        # The bot's runner sends the closing phase's market close itself, after reading the
        # exchange's figure (planning.plan_close); the backtest leaves it to plan().
        self.close_reads_exchange = False

    def _build(self, lower: Decimal, upper: Decimal, num: int) -> GridLayout:
        return build_grid(self.config, self.market, lower, upper, num)

    def emit(self, kind: str, message: str, **data: Any) -> None:
        self.events.append(BotEvent(kind, message, data))

    def drain_events(self) -> list[BotEvent]:
        events, self.events = self.events, []
        return events

    # ---- the book -----------------------------------------------------------------------
    def can_rest(self, side: str, price: Decimal) -> bool:
        """Would a post-only order at `price` rest? Decided against the book's top when known
        (a buy at or below the best bid, a sell at or above the best ask), else the last price."""
        return pricing.can_rest(side, price, bid=self.bid, ask=self.ask, last=self.state.last_price)

    def touch(self, side: str) -> Decimal:
        """The best price on `side` of the book that rests post-only: the best bid for a buy,
        the best ask for a sell (one tick off the last price when the book is unknown)."""
        return pricing.touch(
            side,
            bid=self.bid,
            ask=self.ask,
            last=self.state.last_price,
            tick=self.market.tick_size,
        )

    def _through_market(self, side: str) -> tuple[Decimal, bool]:
        """(price, post_only) of a closing leg whose level the market has gone through."""
        return pricing.through_market(
            side,
            self.config,
            bid=self.bid,
            ask=self.ask,
            last=self.state.last_price,
            tick=self.market.tick_size,
        )

    def outside_band(self, price: Decimal) -> bool:
        """True when the exchange's price band at the last price refuses a limit at `price`."""
        return pricing.outside_band(price, self.state.last_price, self.market)

    def _band_edge(self, price: Decimal) -> Decimal:
        """The nearest price to `price` that the band at the last price accepts."""
        return pricing.band_edge(price, self.state.last_price, self.market)

    def _clear_of_own(self, side: str, price: Decimal) -> Decimal:
        """`price`, moved past the grid's own orders on the other side: a close that would
        trade with them is expired by the exchange's self-trade prevention (a partially filled
        buy still resting at the level the close would take), so it could never rest."""
        tick = self.market.tick_size
        own = [
            o.price
            for o in self.state.orders.values()
            if o.side != side and o.price is not None and o.status != "gone"
        ]
        if side == "Ask" and own and price <= max(own):
            return max(own) + tick
        if side == "Bid" and own and price >= min(own):
            return min(own) - tick
        return price

    # ---- ids ----------------------------------------------------------------------------
    def _next_id(self, slot: int) -> int:
        gen = self.state.generations.get(slot, 0) + 1
        self.state.generations[slot] = gen
        tag = self.state.id_tag if self.state.id_tag is not None else instance_tag(self.instance)
        return make_client_id(tag, slot, gen)

    # ---- the end of the closing phase (planning and fills both reach it) ----------------
    def _close_done(self) -> bool:
        """True (and the closing phase ended) once what is left is below one order."""
        qty = floor_to(abs(self._close_quantity()), self.market.step_size)
        if qty >= self.market.min_quantity and qty > 0:
            return False
        self.state.closing = False
        self.emit(
            "position_closed",
            "position closed",
            position=str(self.state.position),
            realized_profit=str(self.state.realized_profit),
        )
        self.on_close_done()
        return True

    def on_close_done(self) -> None:
        """After a close: GridStrategy re-lays the grid from the real position."""

    def _close_quantity(self) -> Decimal:
        st = self.state
        if self.market.spot:
            return max(ZERO, st.position - st.position0)
        return st.position
