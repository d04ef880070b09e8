"""The replies' text. Pure: data in, plain text out (sent without parse_mode, so nothing in a
name or a bot's error can break the message's formatting)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_LIST = 20  # entries of a preview's cancel/place lists shown before "... and N more"


def money(value: Any) -> str:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return "?"
    if not d.is_finite():
        return "?"
    return f"{d.quantize(Decimal('0.01')):f}"


def duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or seconds < 0:
        return "-"
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d{s % 86400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60}m"
    if s >= 60:
        return f"{s // 60}m{s % 60}s"
    return f"{s}s"


def grid_line(view: Mapping[str, Any]) -> str:
    """`trading 90-110 @ 100.5, 10 orders, pnl 1.23` from a bot's `/api/grid`."""
    status = str(view.get("status") or "?")
    trading = "trading" if status == "running" else status
    price = view.get("mark_price") or view.get("last_price")
    orders = view.get("open_orders") or []
    live = sum(1 for o in orders if isinstance(o, dict) and o.get("status") == "live")
    profit = view.get("profit") or {}
    text = (
        f"{trading} {view.get('grid_lower_price', '?')}-{view.get('grid_upper_price', '?')}"
        f" @ {price if price is not None else '?'}, {live} orders,"
        f" pnl {money(profit.get('total_pnl'))}"
    )
    reason = view.get("reason")
    if trading != "trading" and reason:
        text += f" ({reason})"
    return text


def status(rows: Sequence[Mapping[str, Any]], grids: Mapping[str, Mapping[str, Any]]) -> str:
    if not rows:
        return "no instances"
    lines = []
    for r in rows:
        name = str(r.get("name"))
        line = f"{name}: {r.get('state')}"
        if r.get("state") == "running":
            line += f" {duration(r.get('uptime_s'))}"
        if r.get("restarts"):
            line += f", {r.get('restarts')} restarts"
        if r.get("state") in ("exited", "fatal", "backoff") and r.get("last_exit"):
            line += f" ({r.get('last_exit')})"
        view = grids.get(name)
        if view is not None:
            line += f"\n  {grid_line(view)}"
        lines.append(line)
    return "\n".join(lines)


def profit(entries: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    total = Decimal(0)
    for e in entries:
        if "error" in e:
            lines.append(f"{e['name']}: {e['error']}")
            continue
        total += e["total"]
        lines.append(
            f"{e['name']}: total {money(e['total'])} (realized {money(e['realized'])},"
            f" unrealized {money(e['unrealized'])}), fees {money(e['fees'])},"
            f" funding {money(e['funding'])}, position {e['position']:f}, fills {e['fills']}"
        )
    if len(entries) > 1:
        lines.append(f"TOTAL: {money(total)}")
    return "\n".join(lines)


def alerts(rows: Sequence[Mapping[str, Any]], now: float | None = None) -> str:
    if not rows:
        return "no firing alerts"
    now = time.time() if now is None else now
    lines = [f"{len(rows)} firing:"]
    for r in rows:
        since = r.get("fired_at") or r.get("started_at")
        age = duration(now - since) if isinstance(since, int | float) else "-"
        acked = ", acked" if r.get("acked_at") else ""
        lines.append(
            f"#{r.get('id')} {r.get('level')} {r.get('rule')} {r.get('subject')}"
            f" ({age} ago{acked}): {r.get('summary')}"
        )
    lines.append("/ack ID stops the reminders of one")
    return "\n".join(lines)


def _items(title: str, items: Any) -> list[str]:
    if not isinstance(items, list) or not items:
        return []
    out = [f"{title} ({len(items)}):"]
    for item in items[:MAX_LIST]:
        if isinstance(item, dict):
            side = item.get("side", "")
            qty = item.get("quantity", "")
            price = item.get("price", "")
            out.append(f"  {side} {qty} @ {price}".rstrip())
        else:
            out.append(f"  {item}")
    if len(items) > MAX_LIST:
        out.append(f"  ... and {len(items) - MAX_LIST} more")
    return out


def adjust_preview(name: str, lower: Decimal, upper: Decimal, view: Mapping[str, Any]) -> str:
    """The bot's dry-run answer (`cancel`, `place`, `covers`, `warnings`, `refused`)."""
    lines = [f"Adjust {name} to {lower:f} - {upper:f}"]
    refused = view.get("refused")
    if refused:
        lines.append(f"REFUSED by the bot: {refused}")
    lines += _items("cancel", view.get("cancel"))
    lines += _items("place", view.get("place"))
    covers = view.get("covers")
    if isinstance(covers, list) and covers:
        lines.append(f"covers: {', '.join(str(c) for c in covers[:MAX_LIST])}")
    elif covers:
        lines.append(f"covers: {covers}")
    warnings = view.get("warnings")
    if isinstance(warnings, list):
        lines += [f"warning: {w}" for w in warnings]
    return "\n".join(lines)
