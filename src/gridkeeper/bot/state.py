"""The bot's state: slots, the orders it believes exist, position and PnL. Pure data.

Everything the bot must remember across a crash lives here and is saved as one JSON document in
the store (with the fills table), so a restart resumes exactly where the last save left off.

Vocabulary: a *slot* trades between two neighbouring price points. Its *kind* says which way it
opens (long: buy low first; short: sell high first); its *phase* says which leg is pending
(open or close). A slot has at most one order at a time. An *inventory* slot (index from
INVENTORY_SLOT_BASE) is a one-off closing order for position the grid's levels do not hold; it
disappears once filled.

Cost basis: FIFO. `lots` are the open position's pieces, oldest first, each with the quote it
really cost (fees included). A fill that reduces the position consumes the oldest lots; what the
grid has realized is everything it paid and received except the cost of the lots still held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Side = Literal["Bid", "Ask"]
Kind = Literal["long", "short"]
Phase = Literal["open", "close"]
Status = Literal["running", "paused", "stopped"]
OrderStatus = Literal["intent", "live", "gone"]

ZERO = Decimal(0)
INVENTORY_SLOT_BASE = 1024  # above any grid slot (grid_num <= 1000), below client_ids.CLOSE_SLOT


@dataclass
class Lot:
    """A piece of the open position: signed base quantity and the signed quote it cost.

    Long lots cost what was paid (price x quantity + fee); short lots cost minus what was
    received (net of fee). A base-paid fee shrinks the quantity at the same cost.
    """

    quantity: Decimal
    cost: Decimal


@dataclass
class TrackedOrder:
    """An order the bot intends to have, or has, on the exchange."""

    client_id: int
    slot: int  # slot index, or client_ids.CLOSE_SLOT for a position close
    side: Side
    price: Decimal | None  # None: a market order (only position closes)
    quantity: Decimal
    reduce_only: bool
    opening: bool
    status: OrderStatus = "intent"
    order_id: str | None = None
    filled: Decimal = ZERO
    # Set when the exchange reports the order closed: fills up to this are still to be applied.
    final_executed: Decimal | None = None
    cancel_sent: bool = False


@dataclass
class SlotState:
    index: int
    buy: Decimal
    sell: Decimal
    kind: Kind
    phase: Phase
    leg_filled: Decimal = ZERO
    open_price: Decimal | None = None  # average price of the opening leg (for booking)
    open_fee: Decimal = ZERO  # quote fees paid on the opening leg
    open_base_fee: Decimal = ZERO  # spot: base fees paid on the opening leg (not delivered)
    close_value: Decimal = ZERO  # quote value of the closing leg's fills so far
    close_fee: Decimal = ZERO  # quote fees paid on the closing leg
    order: int | None = None  # client_id of the slot's order
    retry_after_ms: int = 0  # after a rejection, wait before trying again
    rejects: int = 0  # refusals in a row (exponential backoff); reset when an order is accepted
    quantity: Decimal | None = None  # order size when not the grid's (inventory slots)
    inventory: bool = False  # a one-off close for position no grid level holds

    def size(self, grid_quantity: Decimal) -> Decimal:
        return self.quantity if self.quantity is not None else grid_quantity


@dataclass
class GridState:
    lower: Decimal
    upper: Decimal
    num: int
    slots: list[SlotState]
    status: Status = "running"
    reason: str | None = None
    auto_resume: bool = False  # a boundary pause resumes when the price is back in range
    closing: bool = False  # emergency_close: flatten the position once orders are cancelled
    # A position close that expired (a thin book) or was refused with little of it filled: the
    # next one waits (close_retry_after_ms), 5 s doubling per miss up to 5 minutes.
    close_missed: bool = False
    close_misses: int = 0
    close_retry_after_ms: int = 0
    # Perps: the exchange's mark price of the symbol (read with the position every cycle while
    # one is held); unrealized and total PnL, and the PnL limits, are valued at it.
    mark_price: Decimal | None = None
    keep_exits: bool = False  # paused with closing orders left resting (invariant pause)
    keep_orders: bool = False  # stopped with every order left resting (`stop` without cancel)
    orders: dict[int, TrackedOrder] = field(default_factory=dict)
    generations: dict[int, int] = field(default_factory=dict)
    id_tag: int | None = None  # the clientId tag of this grid (see client_ids)
    quantity: Decimal | None = None  # order size the slots were laid out with
    position: Decimal = ZERO  # the grid's own net base position (spot: its inventory)
    position0: Decimal = ZERO  # position when the grid started (spot: allocated inventory)
    value0: Decimal = ZERO  # position0 valued at the start price
    cash: Decimal = ZERO  # quote received minus paid, fees included
    realized_profit: Decimal = ZERO  # booked round trips, net of their fees
    fees: Decimal = ZERO  # every fee, in quote
    fills_applied: int = 0
    checkpoint_ms: int = 0  # newest fill time applied
    last_price: Decimal | None = None
    funding: Decimal = ZERO  # funding received (+) or paid (-), in quote; also in cash
    # Newest funding interval applied (ms); None: not started yet (the first reconcile sets it
    # to the newest payment without applying older ones: they predate the grid).
    funding_checkpoint_ms: int | None = None
    lots: list[Lot] = field(default_factory=list)  # FIFO cost basis of the position

    def valuation_price(self) -> Decimal | None:
        """What the position is valued at: the exchange's mark (perps), else the last price."""
        return self.mark_price if self.mark_price is not None else self.last_price

    def total_pnl(self, price: Decimal | None = None) -> Decimal:
        """Mark-to-market PnL of everything the grid traded since it started."""
        mark = price if price is not None else self.valuation_price()
        if mark is None:
            return self.cash - self.value0
        return self.cash + self.position * mark - self.value0

    def unrealized_pnl(self, price: Decimal | None = None) -> Decimal:
        """Total PnL not yet booked as grid profit: the inventory's PnL (0 when flat)."""
        return self.total_pnl(price) - self.realized_profit

    def lots_cost(self) -> Decimal:
        return sum((lot.cost for lot in self.lots), ZERO)

    def book_realized(self) -> Decimal:
        """Realized profit by FIFO: cash flow since start plus the cost of the lots still held."""
        return self.cash - self.value0 + self.lots_cost()

    def slot_order(self, slot: SlotState) -> TrackedOrder | None:
        return None if slot.order is None else self.orders.get(slot.order)


def _enc(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list):
        return [_enc(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _enc(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return {name: _enc(getattr(value, name)) for name in value.__dataclass_fields__}
    return value


_DEC_FIELDS = {
    "price",
    "quantity",
    "filled",
    "final_executed",
    "buy",
    "sell",
    "leg_filled",
    "open_price",
    "open_fee",
    "open_base_fee",
    "close_value",
    "close_fee",
    "lower",
    "upper",
    "position",
    "position0",
    "value0",
    "cash",
    "realized_profit",
    "fees",
    "last_price",
    "mark_price",
    "funding",
    "cost",
}


def _dec_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (Decimal(v) if k in _DEC_FIELDS and v is not None else v) for k, v in data.items()}


def state_to_dict(state: GridState) -> dict[str, Any]:
    result: dict[str, Any] = _enc(state)
    return result


def state_from_dict(data: dict[str, Any]) -> GridState:
    raw = _dec_fields(data)
    raw["slots"] = [SlotState(**_dec_fields(s)) for s in data["slots"]]
    raw["orders"] = {int(k): TrackedOrder(**_dec_fields(o)) for k, o in data["orders"].items()}
    raw["generations"] = {int(k): int(v) for k, v in data["generations"].items()}
    if "lots" in data:
        raw["lots"] = [Lot(**_dec_fields(lot)) for lot in data["lots"]]
    state = GridState(**raw)
    if "lots" not in data:
        _migrate_lots(state)
    return state


def _migrate_lots(state: GridState) -> None:
    """A state saved before FIFO lots: one lot carries the position at the cost that keeps the
    realized figure as it was; a flat grid realizes everything (nothing is left unrealized)."""
    if state.position != 0:
        cost = state.realized_profit - state.cash + state.value0
        state.lots = [Lot(state.position, cost)]
    else:
        state.lots = []
        state.realized_profit = state.book_realized()
