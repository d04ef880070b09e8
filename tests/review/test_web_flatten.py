"""R2 review: the dashboard's "stop + flatten" against a real keeper, a real spot grid bot on the
paper exchange and a real `gridkeeper web` process (the fixtures of tests/integration/web)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from tests.integration.bot.conftest import wait_for
from tests.integration.operations.conftest import Ops, ops  # noqa: F401 (the fixture)
from tests.integration.web.conftest import Web, web  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration


def _live(ops: Ops, name: str, port: int) -> int:  # noqa: F811
    return sum(1 for o in ops.view(name, port)["open_orders"] if o["status"] == "live")


def test_web_stop_with_flatten_stops_a_spot_grid_once_it_sold_what_it_bought(
    ops: Ops,  # noqa: F811
    web: Web,  # noqa: F811
) -> None:
    """A spot grid starts with inventory (position0): a flatten sells what the grid bought
    beyond it and the bot's `closing` ends, but `position` never reaches 0. The dashboard waited
    for `position == 0`, so a flatten stop of any spot grid (or a perp grid left with dust
    below one order) answered 409 "still holds ..." after 30 s and never stopped the process,
    while `gridkeeper stop --flatten` (which waits for `closing` to end) stops it."""
    port = ops.grid("sol-w")
    assert ops.gk("start", "-d").returncode == 0
    wait_for(lambda: _live(ops, "sol-w", port) == 10, what="orders")
    start = Decimal(ops.view("sol-w", port)["position"])
    assert start > 0  # the inventory the grid's sells need
    ops.paper.set_price("SOL_USDC", "95.9")  # fills the buys at 98 and 96
    wait_for(lambda: Decimal(ops.view("sol-w", port)["position"]) > start + 1, what="bought 2")
    answer = httpx.post(
        f"{web.url}/api/instances/sol-w/stop",
        json={"cancel_orders": True, "flatten": True},
        headers=web.auth(),
        timeout=90,
    )
    assert answer.status_code == 200, answer.text
    # The process is gone: what was sold shows on the book.
    opened, history, _, _ = ops.paper.query("SOL_USDC")
    assert not opened
    assert any(o.order_type == "Market" and o.side == "Ask" for o in history)
    assert {r["name"]: r["state"] for r in ops.status()}["sol-w"] == "stopped"
