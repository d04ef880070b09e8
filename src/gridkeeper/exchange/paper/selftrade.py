"""Self-trade prevention: what happens when a new order would trade with its own account's orders.

Pure. Backpack's `selfTradePrevention` modes: RejectTaker (the new order expires where it would
meet its own), RejectMaker (the account's resting orders in the way expire), RejectBoth.
"""

from __future__ import annotations

from gridkeeper.exchange.paper.book import ZERO, BookOrder
from gridkeeper.exchange.paper.liquidity import Level


def self_trade(
    order: BookOrder, plan: list[Level] | None, opposite: list[BookOrder]
) -> tuple[list[BookOrder], list[Level] | None, bool]:
    """Return (resting orders to expire, the fills to take, whether the new order expires).

    An own opposite order is in the way when the new order's price reaches it (any price for a
    market order). The new order trades against the book only at prices strictly better than the
    nearest own order; when that does not complete it, it would trade with itself and its mode
    applies. `opposite`: the market's open orders on the other side (any account).
    """
    bid = order.side == "Bid"
    reach = order.price
    own = [
        o
        for o in opposite
        if o.account == order.account
        and o.is_open
        and o.price is not None
        and (reach is None or (o.price <= reach if bid else o.price >= reach))
    ]
    if not own:
        return [], plan, False
    prices = [o.price for o in own if o.price is not None]
    nearest = min(prices) if bid else max(prices)
    ahead = [(p, q) for p, q in plan or [] if (p < nearest if bid else p > nearest)]
    if sum((q for _, q in ahead), ZERO) >= order.quantity:
        return [], plan, False  # the book completes it before it reaches its own orders
    mode = order.self_trade_prevention
    makers = own if mode in ("RejectMaker", "RejectBoth") else []
    if mode in ("RejectTaker", "RejectBoth"):
        return makers, ahead, True
    return makers, plan, False
