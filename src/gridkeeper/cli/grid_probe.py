"""Grid columns for `status`/`list`: each running grid bot's trading state, read from its control
API (`GET /api/grid` with the bot's bearer token), all bots at once.

Standard library only (http.client, threads, json): `status`'s fast path (cli/fast.py) imports
this, and httpx or asyncio would cost more start-up time than the requests themselves. A bot that
does not answer within the timeout is shown as `?`; it never holds the table up longer than one
timeout, however many bots there are.
"""

from __future__ import annotations

import http.client
import json
import threading
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

TIMEOUT_S = 1.0
LIVE = ("running", "starting")


def token_path(home: Path, name: str) -> Path:
    return home / "tokens" / f"{name}.token"


def is_grid(home: Path, row: dict[str, Any]) -> bool:
    """A gridkeeper grid bot writes its control API's token at start; other programs do not."""
    return bool(row.get("port")) and token_path(home, str(row.get("name"))).is_file()


def _dec(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


def summarize(view: dict[str, Any]) -> dict[str, Any]:
    """The columns from a `/api/grid` answer (decimals stay strings, as the bot sends them)."""
    price = _dec(view.get("mark_price")) or _dec(view.get("last_price"))
    lower, upper = _dec(view.get("grid_lower_price")), _dec(view.get("grid_upper_price"))
    where: str | None = None
    if price is not None and lower is not None and upper is not None:
        where = "below" if price < lower else "above" if price > upper else "in"
    status = str(view.get("status") or "?")
    orders = view.get("open_orders") or []
    profit = view.get("profit") or {}
    return {
        "answered": True,
        "trading": "trading" if status == "running" else status,
        "reason": view.get("reason"),
        "closing": bool(view.get("closing")),
        "price": view.get("mark_price") or view.get("last_price"),
        "lower": view.get("grid_lower_price"),
        "upper": view.get("grid_upper_price"),
        "range": where,
        "position": view.get("position"),
        "open_orders": sum(1 for o in orders if o.get("status") == "live"),
        "total_pnl": profit.get("total_pnl"),
        "realized": profit.get("realized_grid_profit"),
        "unrealized": profit.get("unrealized_pnl"),
    }


def fetch(port: int, token: str, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """One bot's grid columns; `{"answered": False, "error": ...}` when it does not answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/api/grid", headers={"Authorization": f"Bearer {token}"})
        answer = conn.getresponse()
        body = answer.read()
        if answer.status != 200:
            return {"answered": False, "error": f"HTTP {answer.status}"}
        view = json.loads(body)
        if not isinstance(view, dict):
            return {"answered": False, "error": "not a grid view"}
        return summarize(view)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return {"answered": False, "error": str(exc) or type(exc).__name__}
    finally:
        conn.close()


def add_grid_columns(home: Path, rows: list[dict[str, Any]], timeout: float = TIMEOUT_S) -> None:
    """Set `row["grid"]` on every row: None for a program that is not a grid bot, the bot's
    columns for a running grid, `{"answered": False, ...}` for one stopped or not answering."""
    threads: list[threading.Thread] = []
    asked: list[dict[str, Any]] = []
    results: dict[int, dict[str, Any]] = {}
    for row in rows:
        if not is_grid(home, row):
            row["grid"] = None
            continue
        if row.get("state") not in LIVE:
            row["grid"] = {"answered": False, "error": "not running"}
            continue
        try:
            token = token_path(home, str(row["name"])).read_text().strip()
        except OSError as exc:
            row["grid"] = {"answered": False, "error": str(exc)}
            continue
        row["grid"] = {"answered": False, "error": "no answer"}

        def work(index: int = len(threads), port: int = int(row["port"]), key: str = token) -> None:
            results[index] = fetch(port, key, timeout)

        # Daemon threads: a bot that hangs past the join below cannot keep the CLI alive.
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        threads.append(thread)
        asked.append(row)
    for thread in threads:
        thread.join(timeout + 0.5)
    # Only answers in by now: a late thread writes to `results`, never to a row being printed.
    for index, row in enumerate(asked):
        answer = results.get(index)
        if answer is not None:
            row["grid"] = answer
