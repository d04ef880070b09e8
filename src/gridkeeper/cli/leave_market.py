"""What `gridkeeper stop` does with a grid's orders before its process stops.

Plain `stop` leaves every order resting on the exchange (they keep working; the bot picks them
up when it starts again) and says how many. `--cancel-orders` asks the bot (`POST /api/stop`)
to cancel them first; `--flatten` also closes the position at market (reduce-only on perps) and
waits until the bot reports it flat: only then is the process stopped.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gridkeeper.cli.grid_client import GridControl, read_token
from gridkeeper.cli.grid_probe import LIVE, is_grid
from gridkeeper.errors import GridkeeperError, OperationFailed

FLATTEN_TIMEOUT_S = 120.0


class StillClosing(OperationFailed):
    """The bot is still closing the position when the wait ends; the process is not stopped."""


def _live(view: dict[str, Any]) -> int:
    return sum(1 for o in view.get("open_orders", []) if o.get("status") == "live")


def _wait_flat(control: GridControl, name: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    view = control.grid()
    # `closing` ends when what is left is below one order (the bot's own test: dust stays).
    while view.get("closing"):
        if time.monotonic() > deadline:
            raise StillClosing(
                f"{name}: still closing its position ({view.get('position')}) after "
                f"{timeout:.0f}s; its process was NOT stopped. Watch `gridkeeper grid show "
                f"{name}` (a thin book fills the close slowly), then stop it again"
            )
        time.sleep(0.2)
        view = control.grid()
    return view


def before_stop(
    home: Path,
    rows: list[dict[str, Any]],
    *,
    cancel_orders: bool,
    flatten: bool,
    timeout: float = FLATTEN_TIMEOUT_S,
) -> dict[str, dict[str, Any]]:
    """For each running grid bot in `rows`: cancel / flatten when asked, else count the orders
    that stay. Returns name -> what was done (for the report and --json)."""
    done: dict[str, dict[str, Any]] = {}
    for row in rows:
        name = str(row.get("name"))
        if not is_grid(home, row):
            if cancel_orders or flatten:
                done[name] = {"grid": False, "note": "not a grid bot: no orders to cancel"}
            continue
        if row.get("state") not in LIVE:
            done[name] = {"grid": True, "note": "not running: its orders were not touched"}
            continue
        control = GridControl(f"http://127.0.0.1:{row['port']}", read_token(home, name))
        try:
            if cancel_orders or flatten:
                answer = control.stop(cancel_orders=cancel_orders, flatten=flatten)
                info: dict[str, Any] = {
                    "grid": True,
                    "cancelled": answer.get("cancelled", []),
                    "left_resting": len(answer.get("left_resting", [])),
                    "close": answer.get("close"),
                    "position": answer.get("position"),
                }
                if flatten and answer.get("closing"):
                    info["position"] = _wait_flat(control, name, timeout).get("position")
            else:
                info = {"grid": True, "cancelled": [], "left_resting": _live(control.grid())}
        except StillClosing:
            raise
        except GridkeeperError as exc:
            if cancel_orders or flatten:
                # Asked to leave the market: stopping anyway would leave the orders working.
                raise OperationFailed(
                    f"{name}: {exc}; nothing was stopped (`gridkeeper stop {name}` stops it "
                    "with its orders resting)"
                ) from exc
            info = {
                "grid": True,
                "note": f"its control API did not answer ({exc}); its "
                "orders were not counted and stay as they are",
            }
        done[name] = info
    return done


def describe(name: str, info: dict[str, Any] | None) -> str | None:
    """One line about the orders of `name`, or None when there is nothing to say."""
    if info is None:
        return None
    if "note" in info:
        return f"{name}: {info['note']}"
    parts = []
    if info.get("cancelled"):
        parts.append(f"cancelled {len(info['cancelled'])} orders")
    close = info.get("close")
    if close:
        side = "sold" if close.get("side") == "Ask" else "bought"
        parts.append(f"closed the position ({side} {close.get('quantity')} at market)")
    resting = int(info.get("left_resting") or 0)
    if resting:
        parts.append(
            f"{resting} orders left resting on the exchange (`gridkeeper stop {name} "
            "--cancel-orders` cancels them)"
        )
    elif not parts:
        parts.append("no open orders")
    return f"{name}: " + "; ".join(parts)
