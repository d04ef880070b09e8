"""The matching engine's state and read-only queries: markets, prices, balances, open orders.

paper/settlement.py, paper/resting.py and `Engine` (paper/engine.py) add the operations that
change it. Every mutation is recorded in `Changes` so the store can persist exactly what changed
(`drain`) and the websocket can publish Backpack-shaped order updates.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace
from decimal import Decimal

from gridkeeper.exchange.paper.book import (
    ZERO,
    BalanceState,
    BookFill,
    BookOrder,
    EngineReject,
    FundingPayment,
    FundingRate,
    MarketSpec,
    PositionState,
)
from gridkeeper.exchange.paper.liquidity import LiquidityModel

__all__ = ["Changes", "EngineState"]


@dataclass
class Changes:
    """What one or more operations changed, for the store and the websocket."""

    orders: dict[str, BookOrder] = field(default_factory=dict)
    fills: list[BookFill] = field(default_factory=list)
    balances: set[tuple[str, str]] = field(default_factory=set)
    positions: set[tuple[str, str]] = field(default_factory=set)
    prices: set[str] = field(default_factory=set)
    events: list[tuple[str, BookOrder, str, BookFill | None]] = field(default_factory=list)
    # Funding settled: ledger rows persisted with the balance changes they explain.
    funding_rates: list[FundingRate] = field(default_factory=list)
    funding_payments: list[FundingPayment] = field(default_factory=list)
    # Accepted (202) cancels: order id -> due time (ms), or None once done or dropped.
    pending_cancels: dict[str, int | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.orders
            or self.fills
            or self.balances
            or self.positions
            or self.prices
            or self.funding_rates
            or self.funding_payments
            or self.pending_cancels
        )


class EngineState:
    def __init__(
        self,
        markets: list[MarketSpec],
        *,
        market_slippage: Decimal = ZERO,
        liquidity: LiquidityModel | None = None,
        self_trade_prevention: bool = False,
        reduce_only_modify: bool = False,
        cancel_delay_ms: int = 0,
    ) -> None:
        self.markets = {m.symbol: m for m in markets}
        self.market_slippage = market_slippage
        self.liquidity = liquidity
        self.self_trade_prevention = self_trade_prevention
        self.reduce_only_modify = reduce_only_modify
        self.cancel_delay_ms = cancel_delay_ms
        # Cancels accepted (202) but not done: order id -> when they complete (ms).
        self.pending_cancels: dict[str, int] = {}
        # Book-model quantity takers consumed per price since the last price move.
        self._taken: dict[str, dict[Decimal, Decimal]] = {m: {} for m in self.markets}
        self.prices: dict[str, Decimal] = {}
        self.marks: dict[str, Decimal] = {}  # perps' mark prices, kept by paper/perp.py
        self.balances: dict[tuple[str, str], BalanceState] = {}
        self.positions: dict[tuple[str, str], PositionState] = {}
        self.orders: dict[str, BookOrder] = {}  # open orders only; closed ones live in the store
        self.next_order_id = 1
        self.next_trade_id = 1
        # Lazy-deletion heaps: a bid heap keyed by -price, an ask heap by price, FIFO within one.
        self._bids: dict[str, list[tuple[Decimal, int, str]]] = {m: [] for m in self.markets}
        self._asks: dict[str, list[tuple[Decimal, int, str]]] = {m: [] for m in self.markets}
        self._changes = Changes()

    # -- state loading -------------------------------------------------------------------

    def restore_order(self, order: BookOrder) -> None:
        if order.is_open:
            self.orders[order.id] = order
            self._rest(order)

    def ensure_account(self, account: str, balances: dict[str, Decimal]) -> None:
        """Create an account's starting balances unless it already has any."""
        if any(key[0] == account for key in self.balances):
            return
        for asset, amount in balances.items():
            self.balances[(account, asset)] = BalanceState(available=amount)
            self._changes.balances.add((account, asset))

    def drain(self) -> Changes:
        changes, self._changes = self._changes, Changes()
        return changes

    # -- queries -------------------------------------------------------------------------

    def market(self, symbol: str) -> MarketSpec:
        spec = self.markets.get(symbol)
        if spec is None:
            raise EngineReject("INVALID_SYMBOL", f"Market {symbol} not found")
        return spec

    def price(self, symbol: str) -> Decimal:
        price = self.prices.get(symbol)
        if price is None:
            raise EngineReject("INVALID_MARKET", f"No price for {symbol} yet", 503)
        return price

    def mark_price(self, symbol: str, default: Decimal | None = None) -> Decimal:
        """The price positions are valued at: a perp's mark, else (and until set) the last."""
        mark = self.marks.get(symbol)
        if mark is not None:
            return mark
        if default is not None and symbol not in self.prices:
            return default
        return self.price(symbol)

    def credit(self, account: str, asset: str, amount: Decimal) -> None:
        """Add (or, negative, take) an amount outside any order: funding payments."""
        self.balance(account, asset).available += amount
        self._changes.balances.add((account, asset))

    def record_funding(self, rates: list[FundingRate], payments: list[FundingPayment]) -> None:
        """Queue a settled interval's ledger rows for the same commit as its balance changes."""
        self._changes.funding_rates.extend(rates)
        self._changes.funding_payments.extend(payments)

    def balance(self, account: str, asset: str) -> BalanceState:
        state = self.balances.get((account, asset))
        if state is None:
            state = self.balances[(account, asset)] = BalanceState()
        return state

    def open_orders(self, account: str, symbol: str | None = None) -> list[BookOrder]:
        found = [
            o
            for o in self.orders.values()
            if o.account == account and (symbol is None or o.symbol == symbol)
        ]
        return sorted(found, key=lambda o: int(o.id))

    def find_open(
        self, account: str, symbol: str, order_id: str | None, client_id: int | None
    ) -> BookOrder | None:
        if order_id is not None:
            order = self.orders.get(order_id)
            return order if order and order.account == account and order.symbol == symbol else None
        for order in self.open_orders(account, symbol):
            if order.client_id == client_id:
                return order
        return None

    def taken(self, symbol: str) -> dict[Decimal, Decimal]:
        """Book-model quantity consumed by takers at each price since the price last moved."""
        return self._taken[symbol]

    def resting_tops(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        """The highest resting bid and lowest resting ask (None: that side is empty).

        Cancelled orders linger in the heaps until popped, so these bound the live book: a new
        price `p` with `bid <= p <= ask` fills nothing (`set_price` trades through neither)."""
        bids, asks = self._bids[symbol], self._asks[symbol]
        return (-bids[0][0] if bids else None), (asks[0][0] if asks else None)

    def account_positions(self, account: str) -> list[tuple[str, PositionState]]:
        return [
            (symbol, pos)
            for (acct, symbol), pos in sorted(self.positions.items())
            if acct == account and pos.net_quantity != ZERO
        ]

    def equity(self, account: str) -> Decimal:
        """Collateral value: every asset at its mark price plus unrealized perp PnL."""
        total = ZERO
        for (acct, asset), bal in self.balances.items():
            if acct == account:
                total += (bal.available + bal.locked) * self.asset_price(asset)
        for symbol, pos in self.account_positions(account):
            total += pos.unrealized(self.mark_price(symbol, pos.entry_price))
        return total

    def asset_price(self, asset: str) -> Decimal:
        """USD value of one unit: the quote asset is 1, a base asset takes its spot price."""
        for spec in self.markets.values():
            if spec.base == asset and not spec.is_perp and spec.symbol in self.prices:
                return self.prices[spec.symbol]
        for spec in self.markets.values():
            if spec.base == asset and spec.symbol in self.prices:
                return self.prices[spec.symbol]
        return Decimal(1)

    # -- internals -----------------------------------------------------------------------

    def _margin_in_use(self, account: str) -> Decimal:
        used = ZERO
        for symbol, pos in self.account_positions(account):
            spec = self.markets[symbol]
            used += (
                abs(pos.net_quantity)
                * self.mark_price(symbol, pos.entry_price)
                * (spec.initial_margin)
            )
        return used + self.order_margin(account)

    def order_margin(self, account: str) -> Decimal:
        """Initial margin the account's open perp orders hold (reduce-only ones hold none)."""
        held = ZERO
        for order in self.orders.values():
            spec = self.markets[order.symbol]
            if order.account == account and spec.is_perp and not order.reduce_only:
                held += order.remaining * (order.price or ZERO) * spec.initial_margin
        return held

    def _rest(self, order: BookOrder) -> None:
        assert order.price is not None
        seq = int(order.id)
        if order.side == "Bid":
            heapq.heappush(self._bids[order.symbol], (-order.price, seq, order.id))
        else:
            heapq.heappush(self._asks[order.symbol], (order.price, seq, order.id))

    def _touch(self, order: BookOrder) -> None:
        self._changes.orders[order.id] = order

    def _event(
        self, kind: str, order: BookOrder, now_ms: int, fill: BookFill | None = None
    ) -> None:
        # A snapshot: later fills in the same batch must not rewrite this event's fields.
        self._changes.events.append((kind, replace(order), order.account, fill))
