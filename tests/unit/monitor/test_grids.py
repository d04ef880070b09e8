"""Per-grid trading samples: from the bot's API answers (pure), and which bots are asked."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gridkeeper.monitor.grids import GridProbe, grid_samples

VIEW = {
    "symbol": "SOL_USDC",
    "status": "running",
    "grid_lower_price": "90",
    "grid_upper_price": "110",
    "last_price": "100.5",
    "mark_price": None,
    "position": "-2.5",
    "open_orders": [{"status": "live"}, {"status": "live"}, {"status": "cancelled"}],
    "profit": {"realized_grid_profit": "12.5", "unrealized_pnl": "-1.25", "total_pnl": "11"},
}
DETAIL = {"fills": 7, "orders_rejected": 2}


def _values(samples: list[Any]) -> dict[str, float]:
    return {s.name.removeprefix("gridkeeper_grid_"): s.value for s in samples}


def test_grid_samples_from_the_bot_answers() -> None:
    samples = grid_samples("sol-a", VIEW, DETAIL)
    got = _values(samples)
    assert got == {
        "up": 1.0,
        "trading": 1.0,
        "realized_pnl": 12.5,
        "unrealized_pnl": -1.25,
        "total_pnl": 11.0,
        "position": -2.5,
        "open_orders": 2.0,
        "price": 100.5,
        "range_lower": 90.0,
        "range_upper": 110.0,
        "fills_total": 7.0,
        "rejects_total": 2.0,
    }
    pnl = next(s for s in samples if s.name == "gridkeeper_grid_total_pnl")
    assert dict(pnl.labels) == {"name": "sol-a", "symbol": "SOL_USDC"}


def test_paused_grid_without_price_yet() -> None:
    """Paused: trading 0. Values the bot does not know yet (no price) give no series."""
    view = {**VIEW, "status": "paused", "last_price": None, "profit": {}}
    got = _values(grid_samples("sol-a", view, {}))
    assert got["trading"] == 0.0
    assert "price" not in got and "total_pnl" not in got and "rejects_total" not in got


class _Bot(BaseHTTPRequestHandler):
    token = "right"

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self.send_error(401)
            return
        body = json.dumps(VIEW if self.path == "/api/grid" else DETAIL).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def bot() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_probe_asks_live_grids_with_their_token(tmp_path: Path, bot: int) -> None:
    """A grid with the right token is read; a wrong token is `up 0`; a program without a token
    file, a stopped grid, or one without a port is not asked at all."""
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tokens / "good.token").write_text("right\n")
    (tokens / "bad.token").write_text("wrong")
    (tokens / "stopped.token").write_text("right")
    statuses = [
        {"name": "good", "state": "running", "port": bot},
        {"name": "bad", "state": "running", "port": bot},
        {"name": "stopped", "state": "stopped", "port": bot},
        {"name": "plain", "state": "running", "port": bot},
        {"name": "noport", "state": "running", "port": None},
    ]
    probe = GridProbe(tmp_path, timeout=2)
    try:
        samples = probe.sample(statuses)
    finally:
        probe.close()
    up = {s.label("name"): s.value for s in samples if s.name == "gridkeeper_grid_up"}
    assert up == {"good": 1.0, "bad": 0.0}
    assert {s.label("name") for s in samples if s.name == "gridkeeper_grid_fills_total"} == {"good"}


def test_probe_of_a_dead_port_is_down_not_an_error(tmp_path: Path) -> None:
    from tests.support import free_port

    (tmp_path / "tokens").mkdir()
    (tmp_path / "tokens" / "gone.token").write_text("t")
    probe = GridProbe(tmp_path, timeout=1)
    try:
        samples = probe.sample([{"name": "gone", "state": "running", "port": free_port()}])
    finally:
        probe.close()
    assert [(s.name, s.value) for s in samples] == [("gridkeeper_grid_up", 0.0)]
