"""Order validation against a market's filters (step, tick, minimum, price band)."""

from __future__ import annotations

from decimal import Decimal, localcontext

from gridkeeper.exchange.paper.book import ZERO, EngineReject, MarketSpec, OrderInput

SELF_TRADE_MODES = ("RejectTaker", "RejectMaker", "RejectBoth")
# Enough digits for the quotient of any parsed decimal (< 1E+28) by any step (>= 1E-28).
EXACT_PRECISION = 80


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """Whether `value` is a whole number of `step`s. Exact: at the default 28 digits `%`
    raises InvalidOperation once the quotient outgrows the precision (1E+20 % 0.00000001)."""
    with localcontext() as ctx:
        ctx.prec = EXACT_PRECISION
        return value % step == ZERO


def validate(spec: MarketSpec, req: OrderInput, last: Decimal) -> None:
    """Refuse an order the market's filters do not allow, as Backpack would.

    The price band is around `last`, the last traded price: Backpack's PriceFilter documents
    minMultiplier/maxMultiplier as "from last active price" (not the mark or the best bid/ask).
    """
    if req.side not in ("Bid", "Ask"):
        raise EngineReject("INVALID_ORDER", f"Invalid side {req.side}")
    if req.order_type not in ("Limit", "Market"):
        raise EngineReject("INVALID_ORDER", f"Unsupported order type {req.order_type}")
    if req.time_in_force not in ("GTC", "IOC", "FOK"):
        raise EngineReject("INVALID_ORDER", f"Invalid time in force {req.time_in_force}")
    if req.self_trade_prevention not in SELF_TRADE_MODES:
        raise EngineReject(
            "INVALID_ORDER", f"Invalid selfTradePrevention {req.self_trade_prevention}"
        )
    if req.quantity <= ZERO or not is_multiple(req.quantity, spec.step_size):
        raise EngineReject(
            "INVALID_QUANTITY", f"Quantity must be a positive multiple of {spec.step_size}"
        )
    if req.quantity < spec.min_quantity:
        raise EngineReject("INVALID_QUANTITY", f"Quantity is below {spec.min_quantity}")
    if spec.max_quantity is not None and req.quantity > spec.max_quantity:
        raise EngineReject("INVALID_QUANTITY", f"Quantity is above {spec.max_quantity}")
    if req.reduce_only and not spec.is_perp:
        raise EngineReject("INVALID_ORDER", "Reduce only is only supported on futures")
    if req.order_type == "Market":
        if req.post_only:
            raise EngineReject("INVALID_ORDER", "Market orders cannot be post only")
        return
    if req.price is None:
        raise EngineReject("INVALID_ORDER", "Limit orders require a price")
    if req.price <= ZERO or not is_multiple(req.price, spec.tick_size):
        raise EngineReject(
            "INVALID_PRICE", f"Price must be a positive multiple of {spec.tick_size}"
        )
    if not last * spec.min_multiplier <= req.price <= last * spec.max_multiplier:
        raise EngineReject(
            "INVALID_PRICE",
            f"Price {req.price} is out of bounds of the last price {last} (PriceOutOfBounds)",
        )
