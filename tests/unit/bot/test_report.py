"""The grid report the bot writes for the monitor: its content, its file, when it is written."""

from __future__ import annotations

import os
from decimal import Decimal as D
from pathlib import Path

import pytest

from gridkeeper.bot.report import REPORT_EVERY_S, Reporter, build_report, reason_kind
from gridkeeper.bot.strategy import GridStrategy
from gridkeeper.gridreport import GridReport, ReportReader, read_report, report_path, write_report

from .sim import SPOT, config


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("stop_loss: total PnL -12 <= -10", "stop_loss"),
        ("take_profit: total PnL 12 >= 10", "take_profit"),
        ("price 80 left the range 90-110 by more than 0%", "boundary"),
        ("price 80 left the range 90-110 by more than 0%; re-centring failed", "boundary"),
        ("position_mismatch: the grid holds 0, the exchange 3", "position_mismatch"),
        ("invariant_broken: 1 SOL without exits for 30s", "invariant"),
        ("paused by operator", "operator"),
        ("price is too high for me", "operator"),
        (None, None),
    ],
)
def test_reason_kind(reason: str | None, kind: str | None) -> None:
    assert reason_kind(reason) == kind


def _strategy() -> GridStrategy:
    return GridStrategy.fresh("sol", config(), SPOT, D(100), D(100))


def test_build_report_carries_state_pnl_and_balances() -> None:
    strategy = _strategy()
    strategy.trigger("stop", "stop_loss: total PnL -12 <= -10")
    rep = build_report(
        strategy,
        instance="sol",
        symbol="SOL_USDC",
        now=123.0,
        exchange_position=D(5),
        balances=(D(7), D(800)),
        trading_since=100.0,
        reject_times=(120.0,),
    )
    assert (rep.status, rep.reason_kind) == ("stopped", "stop_loss")
    assert rep.reason is not None and rep.reason.startswith("stop_loss")
    assert rep.lower == strategy.state.lower and rep.price == D(100)
    assert (rep.base, rep.quote, rep.base_available, rep.quote_available) == (
        "SOL",
        "USDC",
        D(7),
        D(800),
    )
    assert rep.capital is not None and rep.capital > 0
    assert rep.last_fill_at is None and rep.reject_times == (120.0,)
    assert GridReport.from_json(rep.to_json()) == rep  # decimals survive as strings


def test_write_is_atomic_and_reader_rereads_only_changes(tmp_path: Path) -> None:
    rep = GridReport(instance="sol", symbol="SOL_USDC", written_at=1.0, status="running")
    write_report(tmp_path, rep)
    assert [p.name for p in (tmp_path / "grids").iterdir()] == ["sol.json"]  # no temp file
    reader = ReportReader(tmp_path)
    assert reader.read() == ({"sol": rep}, True)
    assert reader.read() == ({"sol": rep}, False)
    paused = GridReport(instance="sol", symbol="SOL_USDC", written_at=2.0, status="paused")
    write_report(tmp_path, paused)
    assert reader.read() == ({"sol": paused}, True)
    # A torn or foreign file is skipped, never fatal; a removed one drops out.
    (tmp_path / "grids" / "junk.json").write_text("{not json")
    assert reader.read()[0] == {"sol": paused}
    os.unlink(report_path(tmp_path, "sol"))
    assert reader.read() == ({}, True)
    assert read_report(tmp_path / "grids" / "junk.json") is None
    with pytest.raises(ValueError, match="cannot name"):
        report_path(tmp_path, "../evil")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_reporter_writes_on_change_at_once_else_at_most_every_few_seconds(tmp_path: Path) -> None:
    clock = Clock()
    errors: list[str] = []
    reporter = Reporter(tmp_path, clock=clock, on_error=errors.append)
    strategy = _strategy()

    def write() -> bool:
        return reporter.write_if_due(
            strategy, instance="sol", symbol="SOL_USDC", exchange_position=None, balances=None
        )

    assert write()  # the first one
    clock.now += 1
    assert not write()  # nothing changed, not due
    strategy.pause("paused by operator")
    assert write()  # a pause is written at once
    rep = read_report(report_path(tmp_path, "sol"))
    assert rep is not None and rep.status == "paused" and rep.reason_kind == "operator"
    clock.now += 1
    reporter.rejected()
    assert reporter.rejected_total == 1  # /health/detailed's orders_rejected
    assert write()
    clock.now += REPORT_EVERY_S
    strategy.resume()
    assert write()
    rep = read_report(report_path(tmp_path, "sol"))
    assert rep is not None and rep.trading_since == clock.now  # trading again since now
    assert rep.reject_times == (1002.0,)
    assert errors == []


def test_reporter_survives_an_unwritable_home_and_says_so_once(tmp_path: Path) -> None:
    blocker = tmp_path / "grids"
    blocker.write_text("a file where the directory should be")
    errors: list[str] = []
    reporter = Reporter(tmp_path, clock=Clock(), on_error=errors.append)
    strategy = _strategy()
    for _ in range(3):
        reporter.rejected()
        assert not reporter.write_if_due(
            strategy, instance="sol", symbol="SOL_USDC", exchange_position=None, balances=None
        )
    assert len(errors) == 1 and "grid report" in errors[0]
    assert reporter.rejected_total == 3
    blocker.unlink()
    assert reporter.write_if_due(
        strategy, instance="sol", symbol="SOL_USDC", exchange_position=None, balances=None
    )


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'{"instance": "x"}',
        b'{"instance": "x", "written_at": "soon", "status": "running"}',
        b'{"instance": "x", "written_at": 1, "status": "running", "total_pnl": "NaN"}',
        b'{"instance": "x", "written_at": 1, "status": "running", "last_fill_at": "yesterday"}',
        b'{"instance": "x", "written_at": 1, "status": "running", "reject_times": [null]}',
    ],
)
def test_a_malformed_report_is_refused_not_half_read(body: bytes) -> None:
    with pytest.raises(ValueError, match="not a grid report"):
        GridReport.from_json(body)


def test_odd_but_readable_types_are_normalised() -> None:
    rep = GridReport.from_json(
        b'{"instance": "x", "symbol": "S", "written_at": "5", "status": 3, "fills": "2", "new": 1}'
    )
    assert (rep.written_at, rep.status, rep.fills) == (5.0, "3", 2)
