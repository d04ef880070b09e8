"""An independent FIFO recomputation of realized profit from fills (test oracle)."""

from __future__ import annotations

from collections import deque
from decimal import Decimal as D

from gridkeeper.exchange.models import Fill


def fifo_realized(fills: list[Fill], start_lots: list[tuple[D, D]] | None = None) -> D:
    """An independent FIFO: realized = everything paid and received but the held lots' cost."""
    lots: deque[list[D]] = deque([q, c] for q, c in (start_lots or []))
    cash = D(0)
    for f in sorted(fills, key=lambda f: (f.timestamp_ms, f.trade_id)):
        signed = f.quantity if f.side == "Bid" else -f.quantity
        paid = signed * f.price + f.fee  # quote fees in these fills
        cash -= paid
        held = sum((lot[0] for lot in lots), D(0))
        if held == 0 or (held > 0) == (signed > 0):
            lots.append([signed, paid])
            continue
        left = abs(signed)
        while lots and left > 0:
            q, c = lots[0]
            if abs(q) <= left:
                lots.popleft()
                left -= abs(q)
            else:
                lots[0] = [q * (abs(q) - left) / abs(q), c * (abs(q) - left) / abs(q)]
                left = D(0)
        if left > 0:
            lots.append([left if signed > 0 else -left, paid * left / abs(signed)])
    return cash + sum((lot[1] for lot in lots), D(0)) - sum((c for _, c in start_lots or []), D(0))
