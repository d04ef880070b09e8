"""Replay timing of a recorded CSV, and the config it needs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gridkeeper.config.paper_exchange import PriceSource
from gridkeeper.errors import ConfigError
from gridkeeper.exchange.paper.prices import PriceFeed


def _feed(tmp_path: Path, text: str, **source: object) -> PriceFeed:
    path = tmp_path / "rec.csv"
    path.write_text(text)
    return PriceFeed(PriceSource(kind="replay", csv_path=str(path), **source), tmp_path)  # type: ignore[arg-type]


def test_replay_waits_the_recorded_gaps_divided_by_speed(tmp_path: Path) -> None:
    feed = _feed(
        tmp_path,
        "timestamp,SOL_USDC\n1000,150\n3000,151\n3500,152\n3400,153\n",
        speed=2,
        interval_s=5,
    )
    delays = [feed.delay_s(step) for step in range(6)]
    # First row at once; 2 s / 2; 0.5 s / 2; a row out of order plays at once; looping back to
    # the first row waits interval_s; then the recorded gaps resume.
    assert delays == [0.0, 1.0, 0.25, 0.0, 5.0, 1.0]


def test_csv_kind_keeps_its_fixed_interval(tmp_path: Path) -> None:
    path = tmp_path / "rec.csv"
    path.write_text("timestamp,price\n1,150\n9999,151\n")
    feed = PriceFeed(PriceSource(kind="csv", csv_path=str(path), interval_s=0.5), tmp_path)
    assert [feed.delay_s(s) for s in range(3)] == [0.5, 0.5, 0.5]


def test_replay_needs_timestamps_and_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="timestamp"):
        _feed(tmp_path, "SOL_USDC\n150\n")
    with pytest.raises(ValidationError, match="csv_path"):
        PriceSource(kind="replay")
    with pytest.raises(ValidationError):
        PriceSource(kind="replay", csv_path="x.csv", speed=0)
