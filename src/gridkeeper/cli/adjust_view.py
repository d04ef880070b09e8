"""How `grid adjust` and menu entry 10 show a range change before it is applied, and ask."""

from __future__ import annotations

import sys
from typing import Any

import click

from gridkeeper.errors import UsageError


def _order_line(order: dict[str, Any]) -> str:
    side = "buy " if order["side"] == "Bid" else "sell"
    price = order.get("price") or "market"
    what = "open " if order.get("opening") else "close"
    flags = " reduce-only" if order.get("reduce_only") else ""
    return f"{side} {order['quantity']} @ {price}  ({what}, slot {order['slot']}{flags})"


def render_preview(preview: dict[str, Any]) -> list[str]:
    """The dry-run answer of `POST /api/grid/adjust` as lines for a terminal."""
    cur, new = preview.get("current", {}), preview.get("new", {})
    lines = [
        f"range {cur.get('lower')}-{cur.get('upper')} ({cur.get('num')} points) -> "
        f"{new.get('lower')}-{new.get('upper')} ({new.get('num')} points)   price "
        f"{preview.get('last_price')}  position {preview.get('position')}",
    ]
    if preview.get("refused"):
        lines.append(f"REFUSED: {preview['refused']}")
        return lines
    cancel, place = preview.get("cancel", []), preview.get("place", [])
    lines.append(f"cancel {len(cancel)} orders:" if cancel else "cancel: nothing")
    lines += [f"  - {_order_line(o)}" for o in cancel]
    lines.append(f"place {len(place)} orders:" if place else "place: nothing")
    lines += [f"  + {_order_line(o)}" for o in place]
    covers = preview.get("covers", [])
    if covers:
        lines.append("the position's exits:")
        for cover in covers:
            state = "new" if cover.get("order") == "place" else "kept"
            lines.append(
                f"  {(cover['side'] == 'Ask' and 'sell') or 'buy '} {cover['quantity']} @ "
                f"{cover.get('price') or 'market'} ({state}) covers {cover['covers']}"
            )
    for warning in preview.get("warnings", []):
        lines.append(f"warning: {warning}")
    return lines


def confirm(question: str, quiet: bool = False) -> None:
    """Ask on the terminal; without one the operator must have said --yes."""
    if not sys.stdin.isatty():
        raise UsageError(
            "this change needs confirmation and stdin is not a terminal: "
            "pass --yes to apply it (or --dry-run to only see it)"
        )
    if not click.confirm(question, default=False, err=quiet):
        raise UsageError("not applied: nothing was changed")
