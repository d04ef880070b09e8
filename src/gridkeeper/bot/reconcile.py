"""Reconciliation: what the store believes against what the exchange says. Pure.

Run at start and periodically. Fills the bot has not applied yet are applied first (placing
their opposite legs follows from the state), then every tracked order is matched to the
exchange's open orders: found → adopted, not open → gone (its slot is freed once its fills are in).
Open orders carrying one of our issued clientIds that no slot owns are duplicates: tracked so the
next plan cancels them. Orders without one of our ids belong to someone else and are left alone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from gridkeeper.bot.client_ids import UNOWNED_SLOT
from gridkeeper.bot.limits import NOT_WATCHED_IN_MISMATCH
from gridkeeper.bot.state import ZERO, GridState, TrackedOrder
from gridkeeper.bot.strategy import GridStrategy
from gridkeeper.exchange.models import Fill, FundingPayment, Order


@dataclass
class ReconcileReport:
    applied: list[Fill] = field(default_factory=list)
    adopted: list[int] = field(default_factory=list)
    freed: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    unresolved: list[int] = field(default_factory=list)
    foreign: int = 0

    def summary(self) -> dict[str, int]:
        return {
            "fills_applied": len(self.applied),
            "adopted": len(self.adopted),
            "freed": len(self.freed),
            "duplicates": len(self.duplicates),
            "unresolved": len(self.unresolved),
            "foreign_orders": self.foreign,
        }


def is_ours(fill_or_order: Fill | Order, issued: Collection[int]) -> bool:
    return fill_or_order.client_id is not None and fill_or_order.client_id in issued


def fill_order(fill: Fill) -> tuple[int, int, str]:
    """The order the exchange made the fills in: time, then the trade id as a number (a text
    sort would apply trade "10" before "9" and so change which FIFO lots a sale consumes)."""
    tid = fill.trade_id
    return (fill.timestamp_ms, int(tid), "") if tid.isdigit() else (fill.timestamp_ms, 0, tid)


def apply_fills(
    strategy: GridStrategy, fills: list[Fill], issued: Collection[int], seen: Collection[str]
) -> list[Fill]:
    """Apply our fills not yet seen, oldest first; returns those applied (to record)."""
    applied: list[Fill] = []
    known_ids = {o.order_id for o in strategy.state.orders.values() if o.order_id}
    done: set[str] = set()
    for fill in sorted(fills, key=fill_order):
        if fill.symbol != strategy.market.symbol or fill.trade_id in seen:
            continue
        if fill.trade_id in done:
            continue
        if not (is_ours(fill, issued) or fill.order_id in known_ids):
            continue
        strategy.on_fill(fill)
        done.add(fill.trade_id)
        applied.append(fill)
    return applied


def reconcile(
    strategy: GridStrategy,
    *,
    open_orders: list[Order],
    fills: list[Fill],
    issued: Collection[int],
    seen: Collection[str],
    history: Mapping[int, Order] | None = None,
    in_flight: Collection[int] = (),
) -> ReconcileReport:
    """Bring the state in line with the exchange. `history`: closed orders by clientId, to learn
    how much of a vanished order executed; `in_flight`: ids whose POST has not answered yet."""
    report = ReconcileReport()
    state = strategy.state
    tracked_before = {o.order_id for o in state.orders.values() if o.order_id}
    report.applied = apply_fills(strategy, fills, issued, seen)
    # Completed by these fills: its first part may have filled before the fills window (the
    # checkpoint moved on since), so the window alone does not show it complete.
    completed = tracked_before - {o.order_id for o in state.orders.values() if o.order_id}
    done = _filled_in_full(open_orders, fills) | completed
    open_by_id: dict[int, Order] = {}
    for order in open_orders:
        if order.symbol != strategy.market.symbol:
            continue
        if order.id in done:
            # The open orders are read before the fills (so a fill between the reads is never
            # lost): an order the fills show complete filled in between. It is not open any
            # more, and its fills moved its slot on; taking it for a duplicate would track a
            # ghost no fill ever completes (and price the slot's next leg around it).
            continue
        if order.client_id is not None and order.client_id in issued:
            open_by_id[order.client_id] = order
        else:
            report.foreign += 1
    for client_id, tracked in list(state.orders.items()):
        if client_id in in_flight:
            continue
        found = open_by_id.pop(client_id, None)
        if found is not None:
            # A cancel recorded before a crash may never have reached the exchange: the order
            # is still open, so the next plan must send it again.
            tracked.cancel_sent = False
            if tracked.status != "live" or tracked.order_id != found.id:
                # Only a change is news: a periodic reconcile must not re-log live orders.
                report.adopted.append(client_id)
                strategy.on_placed(client_id, found.id, found.status, found.executed_quantity)
            continue
        closed = (history or {}).get(client_id)
        if closed is None and tracked.status == "live" and tracked.order_id is not None:
            # The exchange took it, it is no longer open, and its history does not show it yet
            # (history lags open orders): how much it filled is unknown. Re-placing now could
            # double a fill, so the slot stays blocked until a later reconcile sees it.
            report.unresolved.append(client_id)
            continue
        executed = closed.executed_quantity if closed is not None else tracked.filled
        strategy.on_gone(client_id, max(executed, tracked.filled))
        if client_id not in state.orders:
            report.freed.append(client_id)
    for client_id, order in open_by_id.items():
        if client_id in in_flight:
            continue
        state.orders[client_id] = TrackedOrder(
            client_id=client_id,
            slot=UNOWNED_SLOT,
            side=order.side,
            price=order.price,
            quantity=order.quantity,
            reduce_only=order.reduce_only,
            opening=False,
            status="live",
            order_id=order.id,
            filled=order.executed_quantity,
        )
        report.duplicates.append(client_id)
        strategy.emit(
            "duplicate_order",
            f"order {order.id} has our clientId but no slot owns it: cancelling",
            client_id=client_id,
            order_id=order.id,
        )
    strategy.emit("reconciled", "state reconciled with the exchange", **report.summary())
    return report


def _filled_in_full(open_orders: list[Order], fills: list[Fill]) -> set[str]:
    """Ids of the listed open orders whose quantity the fills cover in full."""
    listed = {o.id: o.quantity for o in open_orders}
    executed: dict[str, Decimal] = {}
    for fill in fills:
        if fill.order_id in listed:
            executed[fill.order_id] = executed.get(fill.order_id, ZERO) + fill.quantity
    return {oid for oid, qty in executed.items() if qty >= listed[oid]}


# ---- position and funding (defect 5) ----------------------------------------------------------


def position_gap(grid: Decimal, exchange: Decimal, *, spot: bool) -> Decimal:
    """How far the exchange's figure is from the grid's own position (0: consistent).

    Perp: the grid owns its symbol on its account, so the account's net position must equal the
    grid's: the gap is `exchange - grid`. Spot: the account's base balance (available + locked)
    must cover the grid's inventory; more base than the grid holds is the account's own and not
    a gap, only a shortfall is (negative: the grid believes it holds more than exists).
    """
    if spot:
        return min(ZERO, exchange - grid)
    return exchange - grid


def mismatch_reason(
    grid: Decimal, exchange: Decimal, gap: Decimal, step: Decimal, spot: bool
) -> str:
    what = "the account's base balance" if spot else "the exchange's position"
    return (
        f"position_mismatch: the grid holds {grid}, {what} is {exchange} (difference {gap}, "
        f"more than one step {step}); check for manual trades or a liquidation, then "
        f"`gridkeeper grid adopt NAME` to accept the exchange's figure; {NOT_WATCHED_IN_MISMATCH}"
    )


def apply_funding(
    state: GridState, payments: list[FundingPayment], symbol: str
) -> list[FundingPayment]:
    """Book funding payments newer than the checkpoint into the grid's cash (so they count in
    total PnL and the stop-loss); returns those applied. Idempotent: the checkpoint (newest
    interval applied, saved with the state) keeps a payment from being applied twice.

    A grid with no checkpoint yet (new, or saved before funding was tracked) starts it at the
    newest payment seen without applying older ones: they belong to positions before the grid.
    """
    mine = sorted((p for p in payments if p.symbol == symbol), key=lambda p: p.interval_end_ms)
    if state.funding_checkpoint_ms is None:
        state.funding_checkpoint_ms = mine[-1].interval_end_ms if mine else 0
        return []
    applied = []
    for payment in mine:
        if payment.interval_end_ms <= state.funding_checkpoint_ms:
            continue
        state.cash += payment.quantity
        state.funding += payment.quantity
        state.realized_profit = state.book_realized()  # funding is realized as it is paid
        state.funding_checkpoint_ms = payment.interval_end_ms
        applied.append(payment)
    return applied
