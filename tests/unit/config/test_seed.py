"""The seed's key names and strays, and the derived order quantity (pure functions)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridkeeper.bot.sizing import derive_quantity
from gridkeeper.cli.main import cli
from gridkeeper.config.loader import known_keys
from gridkeeper.config.seed import translate
from gridkeeper.errors import ConfigError


def test_translate_renames_and_warns() -> None:
    raw = {
        "grid_num": 5,
        "exchange_config": {"secret_key": "${S}", "default_window": 5000, "api_version": "v1"},
        "strategy_config": {"interval": 90, "duration": 60, "auto_borrow": True},
    }
    out, warnings = translate(raw, known_keys(), file="f.json")
    assert out["exchange_config"] == {"api_secret": "${S}", "window_ms": 5000}
    assert out["strategy_config"] == {"poll_interval_s": 90, "duration_s": 60}
    assert "grid_num" not in out
    assert len(warnings) == 3
    assert any("top-level key 'grid_num'" in w for w in warnings)


def test_both_spellings_are_an_error() -> None:
    raw = {"exchange_config": {"secret_key": "a", "api_secret": "b"}}
    with pytest.raises(ConfigError, match="both 'secret_key'"):
        translate(raw, known_keys(), file="f.json")


def test_nobodys_top_level_key_is_left_for_validation() -> None:
    out, warnings = translate({"strategy_confg": {}}, known_keys(), file="f.json")
    assert "strategy_confg" in out and warnings == []


def test_derived_quantity_perp_and_minimum() -> None:
    args = {"price": Decimal(100), "grid_num": 11, "step_size": Decimal("0.01")}
    perp = derive_quantity(
        quote_available=Decimal(1000),
        base_available=Decimal(5),
        spot=False,
        min_quantity=Decimal("0.01"),
        **args,
    )
    assert perp == Decimal("0.95")  # 1000 * 0.95 / 10 / 100
    spot = derive_quantity(
        quote_available=Decimal(1000),
        base_available=Decimal(5),
        spot=True,
        min_quantity=Decimal("0.01"),
        **args,
    )
    assert spot == Decimal("1.42")  # 1500 * 0.95 / 10 / 100 = 1.425, down to the step
    tiny = derive_quantity(
        quote_available=Decimal(1),
        base_available=Decimal(0),
        spot=False,
        min_quantity=Decimal("0.1"),
        **args,
    )
    assert tiny == Decimal("0.1")


def test_config_check_with_nothing_to_check_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GRIDKEEPER_SETTINGS", raising=False)
    result = CliRunner().invoke(cli, ["config", "check"])
    assert result.exit_code == 2
    assert "nothing to check" in result.output
