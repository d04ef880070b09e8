"""`gridkeeper exchange record` against real servers, and the replay of what it recorded."""

from __future__ import annotations

import asyncio
import csv
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gridkeeper.exchange.paper.server import ServerThread
from gridkeeper.exchange.recorder import RecordOptions, record
from tests.support import free_port, wait_for

from .conftest import Paper, paper_config

pytestmark = pytest.mark.integration


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _changes(values: list[D]) -> list[D]:
    """The sequence without consecutive repeats: the path a price took."""
    return [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]


def _record_cli(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gridkeeper", "exchange", "record", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finish(proc: subprocess.Popen[bytes], timeout: float = 30) -> tuple[int, str]:
    """Wait for the recorder to exit; its exit code and what it said on stderr."""
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err.decode()


def test_record_ticker_until_interrupted_then_replay_it(paper: Paper, tmp_path: Path) -> None:
    """Prices moved on the paper exchange land in the CSV in order; Ctrl-C keeps them; a replay
    server plays the same path."""
    out = tmp_path / "rec" / "prices.csv"
    proc = _record_cli(
        "SOL_USDC",
        "SOL_USDC_PERP",
        "--out",
        str(out),
        "--source",
        "ticker",
        "--base-url",
        paper.base_url,
        "--interval",
        "0.05",
    )
    try:
        wait_for(lambda: _rows(out), 20, "the first recorded row")
        for price in ("151", "152", "153"):
            paper.set_price("SOL_USDC", price)
            wait_for(
                lambda p=price: any(r["SOL_USDC"] == p for r in _rows(out)),  # type: ignore[misc]
                20,
                f"a row with {price}",
            )
        proc.send_signal(signal.SIGINT)
        code, err = _finish(proc)
        assert code == 0, err
        assert "keeps the rows" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    rows = _rows(out)
    assert list(rows[0]) == ["timestamp", "SOL_USDC", "SOL_USDC_PERP"]
    stamps = [int(r["timestamp"]) for r in rows]
    assert stamps == sorted(stamps) and stamps[0] > 1_600_000_000_000  # ms since the epoch
    assert _changes([D(r["SOL_USDC"]) for r in rows]) == [
        D(p) for p in ("150", "151", "152", "153")
    ]
    assert {r["SOL_USDC_PERP"] for r in rows} == {"150"}

    config = paper_config(
        price_source={"kind": "replay", "csv_path": str(out), "speed": 20, "loop": False},
        markets=[
            {
                "symbol": "SOL_USDC",
                "base_symbol": "SOL",
                "market_type": "SPOT",
                "initial_price": "100",
            }
        ],
    )
    replay = ServerThread(config, tmp_path / "replay-home").start()
    try:
        history = replay.exchange.history

        def played() -> list[D] | None:
            path = _changes([p for _, p in history.between("SOL_USDC", 0, 2**62)])
            return path if path[-1] == D("153") else None

        path = wait_for(played, 30, "the replay to reach the last row")
        assert path == [D(p) for p in ("100", "150", "151", "152", "153")]
    finally:
        replay.stop()


def test_record_klines_with_a_count(paper: Paper, tmp_path: Path) -> None:
    """The klines source writes each kline's close once, at the kline's start, and stops."""
    paper.set_price("SOL_USDC", "151")
    paper.set_price("SOL_USDC_PERP", "160")
    out = tmp_path / "klines.csv"
    proc = _record_cli(
        "SOL_USDC",
        "SOL_USDC_PERP",
        "--out",
        str(out),
        "--source",
        "klines",
        "--base-url",
        paper.base_url,
        "--duration",
        "3600",
        "--count",
        "5",
    )
    code, err = _finish(proc)
    assert code == 0, err
    rows = _rows(out)
    assert 1 <= len(rows) <= 5
    assert int(rows[0]["timestamp"]) % 60_000 == 0  # a 1m kline's start
    assert (rows[-1]["SOL_USDC"], rows[-1]["SOL_USDC_PERP"]) == ("151", "160")


def test_record_fails_clearly_without_a_trades_endpoint(paper: Paper, tmp_path: Path) -> None:
    out = tmp_path / "none.csv"
    proc = _record_cli(
        "SOL_USDC", "--out", str(out), "--base-url", paper.base_url + "/nowhere", "--count", "1"
    )
    code, err = _finish(proc)
    assert code == 1
    assert "404" in err and "--source ticker" in err


class TradesServer:
    """A Backpack-shaped `/api/v1/trades` on 127.0.0.1 whose trades the test appends."""

    def __init__(self) -> None:
        self.trades: dict[str, list[dict[str, Any]]] = {"SOL_USDC": [], "BTC_USDC": []}
        self.lock = threading.Lock()

        async def trades(request: Request) -> JSONResponse:
            with self.lock:
                found = list(self.trades.get(request.query_params["symbol"], []))
            return JSONResponse(found[-int(request.query_params.get("limit", "100")) :])

        self.port = free_port()
        app = Starlette(routes=[Route("/api/v1/trades", trades)])
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()))

    def add(self, symbol: str, trade_id: int, ts: int, price: str) -> None:
        trade = {
            "id": trade_id,
            "price": price,
            "quantity": "1",
            "quoteQuantity": price,
            "timestamp": ts,
            "isBuyerMaker": False,
        }
        with self.lock:
            self.trades[symbol].append(trade)


@pytest.fixture
def trades_server() -> Iterator[TradesServer]:
    server = TradesServer()
    server.thread.start()
    wait_for(lambda: server.server.started, 10, "the trades server")
    try:
        yield server
    finally:
        server.server.should_exit = True
        server.thread.join(10)


def test_record_trades_once_each_at_their_timestamps(
    trades_server: TradesServer, tmp_path: Path
) -> None:
    """Every trade becomes one row at its own time; trades seen again are not repeated; trades of
    several symbols in one millisecond share a row."""
    trades_server.add("SOL_USDC", 1, 1_000, "150")
    trades_server.add("SOL_USDC", 2, 2_000, "151")
    trades_server.add("BTC_USDC", 7, 2_000, "60000")
    out = tmp_path / "trades.csv"
    options = RecordOptions(
        symbols=["SOL_USDC", "BTC_USDC"],
        out=out,
        base_url=f"http://127.0.0.1:{trades_server.port}",
        interval_s=0.05,
        count=4,
    )

    async def go() -> int:
        task = asyncio.create_task(record(options))
        await asyncio.to_thread(wait_for, lambda: len(_rows(out)) == 2, 20, "two rows")
        trades_server.add("SOL_USDC", 3, 3_000, "152")
        trades_server.add("BTC_USDC", 8, 4_000, "60001")
        return await asyncio.wait_for(task, 20)

    assert asyncio.run(go()) == 4
    rows = [(r["timestamp"], r["SOL_USDC"], r["BTC_USDC"]) for r in _rows(out)]
    assert rows == [
        ("1000", "150", ""),
        ("2000", "151", "60000"),
        ("3000", "152", ""),
        ("4000", "", "60001"),
    ]
