"""The backtester's data, sweeps and command on the shipped sample (no network, no server)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

import gridkeeper.backtest as bt
from gridkeeper.backtest.data import DataError, bar_path, load_prices
from gridkeeper.backtest.sample import klines
from gridkeeper.backtest.sweep import SweepError, parse_sweep
from gridkeeper.cli.backtest_cmd import backtest

DATA = Path(bt.__file__).parent / "data"


def test_bar_path_takes_the_shorter_way() -> None:
    assert bar_path(D(10), D(12), D(9), D(11)) == (D(10), D(9), D(12), D(11))  # up bar
    assert bar_path(D(10), D(12), D(9), D("9.5")) == (D(10), D(12), D(9), D("9.5"))  # down bar


def test_sample_is_reproducible_and_loads_as_klines() -> None:
    assert klines(0.01, 7, 140.0) == klines(0.01, 7, 140.0)
    path = load_prices(DATA / "sample_klines.csv")
    assert path.kind == "klines" and path.bars == 4320 and len(path.prices) == 4 * 4320
    assert path.times == sorted(path.times)


def test_paper_csv_and_kline_json(tmp_path: Path) -> None:
    csv_file = tmp_path / "p.csv"
    csv_file.write_text("timestamp,SOL_USDC,BTC_USDC\n1000,100,1\n2000,,2\n3000,101.5,3\n")
    path = load_prices(csv_file, symbol="SOL_USDC")
    assert (path.times, path.prices) == ([1000, 3000], [D(100), D("101.5")])
    js = tmp_path / "k.json"
    js.write_bytes(
        orjson.dumps(
            [
                {
                    "start": "2024-05-01 00:00:00",
                    "open": "1",
                    "high": "2",
                    "low": "0.5",
                    "close": "1.5",
                }
            ]
        )
    )
    assert load_prices(js).prices == [D(1), D("0.5"), D(2), D("1.5")]
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,ETH,BTC\n1,2,3\n")
    with pytest.raises(DataError, match="no column"):
        load_prices(bad, symbol="SOL_USDC")


def test_parse_sweep() -> None:
    assert parse_sweep("grid_num=10:20:5") == ("grid_num", ["10", "15", "20"])
    assert parse_sweep("grid_lower_price=120, 125") == ("grid_lower_price", ["120", "125"])
    with pytest.raises(SweepError):
        parse_sweep("nonsense=1,2")


def test_command_report_and_json(tmp_path: Path) -> None:
    report = tmp_path / "r.html"
    args = [
        "--config",
        str(DATA / "sample_grid.json"),
        "--data",
        str(DATA / "sample_klines.csv"),
        "--to",
        "2024-05-01 12:00",
    ]
    out = CliRunner().invoke(backtest, [*args, "--json", "--report", str(report)])
    assert out.exit_code == 0, out.output
    result = orjson.loads(out.output)
    s = result["summary"]
    assert s["fills"] == len(result["fills"]) > 0
    assert D(s["total_pnl"]) == D(s["realized"]) + D(s["unrealized"])
    page = report.read_text()
    assert "<svg" in page and "http" not in page.replace("http-equiv", "")


def test_command_sweep_ranks(tmp_path: Path) -> None:
    args = [
        "--config",
        str(DATA / "sample_grid.json"),
        "--data",
        str(DATA / "sample_klines.csv"),
        "--to",
        "2024-05-01 06:00",
        "--sweep",
        "grid_num=10:20:10",
        "--sweep",
        "grid_lower_price=130,134",
        "--workers",
        "2",
        "--json",
        "--report",
        str(tmp_path / "s.html"),
    ]
    out = CliRunner().invoke(backtest, args)
    assert out.exit_code == 0, out.output
    rows = orjson.loads(out.output)["results"]
    assert len(rows) == 4
    pnl = [D(r["summary"]["total_pnl"]) for r in rows]
    assert pnl == sorted(pnl, reverse=True)
    assert "Heat map" in (tmp_path / "s.html").read_text()
