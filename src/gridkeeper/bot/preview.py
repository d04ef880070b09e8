"""What a range change would do, without doing it: `POST /api/grid/adjust` with `dry_run`. Pure.

The preview runs the real adjust on a deep copy of the strategy and plans the copy's orders,
so it shows exactly what the bot would cancel and place (never a second, drifting
re-implementation of the layout). The live strategy is not touched.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from gridkeeper.bot.client_ids import CLOSE_SLOT
from gridkeeper.bot.grid import GridError
from gridkeeper.bot.invariant import exit_gaps
from gridkeeper.bot.layout import pending_leg
from gridkeeper.bot.state import SlotState, TrackedOrder
from gridkeeper.bot.strategy import Cancel, GridStrategy, Place, PositionChoice
from gridkeeper.bot.views import dec_str


def _order(order: TrackedOrder, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": order.client_id,
        "slot": order.slot,
        "side": order.side,
        "price": dec_str(order.price),
        "quantity": dec_str(order.quantity),
        "reduce_only": order.reduce_only,
        "opening": order.opening,
        **extra,
    }


def _covers(slot: SlotState, order: TrackedOrder, state: str) -> dict[str, Any]:
    """Which part of the position a closing order exits."""
    if slot.inventory:
        what = f"{order.quantity} of the position no grid level holds"
    else:
        opened = slot.open_price or (slot.buy if slot.kind == "long" else slot.sell)
        verb = "bought" if slot.kind == "long" else "sold"
        what = f"{order.quantity} {verb} at {opened} (slot {slot.index})"
    return {
        "client_id": order.client_id,
        "side": order.side,
        "price": dec_str(order.price),
        "quantity": dec_str(order.quantity),
        "slot": slot.index,
        "kind": slot.kind,
        "inventory": slot.inventory,
        "order": state,  # "place": a new order, "keep": an order already resting
        "covers": what,
    }


def warnings_for(strategy: GridStrategy) -> list[str]:
    """Warnings about the (new) range of `strategy` at its last price."""
    st, cfg = strategy.state, strategy.config
    found: list[str] = []
    price = st.last_price
    if price is not None and not st.lower <= price <= st.upper:
        where = "below" if price < st.lower else "above"
        found.append(
            f"the range {st.lower}-{st.upper} does not contain the current price {price} "
            f"(the price is {where} it): levels on the price's far side wait"
            + (
                f", and the boundary check ({cfg.boundary_action}) fires once the price is "
                f"{cfg.boundary_tolerance * 100}% outside"
                if cfg.enable_boundary_check
                else ""
            )
        )
    outside = [s for s in st.slots if strategy.outside_band(pending_leg(s)[1])]
    if outside:
        band = []
        if strategy.market.band_min is not None and price is not None:
            band.append(f"min {price * strategy.market.band_min}")
        if strategy.market.band_max is not None and price is not None:
            band.append(f"max {price * strategy.market.band_max}")
        found.append(
            f"{len(outside)} levels are outside the exchange's price band ({', '.join(band)}) "
            f"at the price {price}: they wait until the band reaches them (slots "
            f"{', '.join(str(s.index) for s in outside)})"
        )
    return found


def preview_adjust(
    strategy: GridStrategy,
    lower: Decimal | None,
    upper: Decimal | None,
    num: int | None,
    position: PositionChoice,
    now_ms: int,
) -> dict[str, Any]:
    """The dry-run answer. GridError for bad input (a 400); a change that would leave position
    without an exit is not an error here but `refused` (the real adjust refuses it)."""
    st = strategy.state
    result: dict[str, Any] = {
        "dry_run": True,
        "current": {"lower": dec_str(st.lower), "upper": dec_str(st.upper), "num": st.num},
        "new": {
            "lower": dec_str(lower if lower is not None else st.lower),
            "upper": dec_str(upper if upper is not None else st.upper),
            "num": num if num is not None else st.num,
        },
        "last_price": dec_str(st.last_price),
        "position": dec_str(st.position),
        "status": st.status,
        "cancel": [],
        "place": [],
        "covers": [],
        "warnings": [],
        "refused": None,
    }
    trial = copy.deepcopy(strategy)
    try:
        trial.check_adjust(lower, upper, num, position)
    except GridError as exc:
        if exc.field != "position":
            raise
        result["refused"] = str(exc)
        return result
    trial.adjust(lower, upper, num, position=position)
    actions = trial.plan(now_ms)
    cancelled = {a.client_id for a in actions if isinstance(a, Cancel)}
    result["cancel"] = [_order(st.orders[cid]) for cid in sorted(cancelled) if cid in st.orders]
    places = [a for a in actions if isinstance(a, Place)]
    result["place"] = [_order(a.order, post_only=a.post_only) for a in places]
    placed = {a.order.client_id for a in places}
    slots = {s.index: s for s in trial.state.slots}
    for order in trial.state.orders.values():
        if order.opening or order.slot == CLOSE_SLOT or order.client_id in cancelled:
            continue
        if order.client_id not in placed and (order.status == "gone" or order.cancel_sent):
            continue
        slot = slots.get(order.slot)
        if slot is None or slot.order != order.client_id:
            continue
        state = "place" if order.client_id in placed else "keep"
        result["covers"].append(_covers(slot, order, state))
    result["covers"].sort(key=lambda c: (c["slot"], c["client_id"]))
    result["warnings"] = warnings_for(trial)
    if st.status != "running":
        result["warnings"].append(
            f"the grid is {st.status}: the new range is saved and its orders are placed "
            "once it runs again"
        )
    gaps = exit_gaps(trial.state, strategy.market.min_quantity)
    if trial.state.status == "running" and gaps.broken:
        # Not a refusal (the real adjust does not refuse it either): closes held back by a
        # reject backoff are placed a few loops later; the operator should still know.
        result["warnings"].append(f"right after the change, {gaps.describe()}")
    return result
