"""The bot's pydantic-free strategy config: the same keys and types as the validated model, read
back exactly from the resolver's JSON; the resolver refuses what the loader refuses, with the
same message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
from dataclasses import fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gridkeeper.bot import params
from gridkeeper.bot.bot_config import BotConfig, load, parse
from gridkeeper.bot.errors import BotFatal
from gridkeeper.bot.params import GridParams
from gridkeeper.config import load_instance, load_settings
from gridkeeper.config import strategy as model
from gridkeeper.config.strategy import GridStrategyConfig
from gridkeeper.errors import ConfigError

FULL = {
    "grid_lower_price": "90.5",
    "grid_upper_price": "110.25",
    "grid_num": 11,
    "grid_mode": "geometric",
    "order_quantity": "0.123456789",
    "stop_loss": -600,
    "take_profit": "12.5",
    "duration_s": 30,
    "boundary_action": "adjust_range",
    "reconcile_interval_s": 20,
}


def test_same_fields_and_types_as_the_model() -> None:
    hints = typing.get_type_hints(GridParams)
    assert [f.name for f in fields(GridParams)] == list(GridStrategyConfig.model_fields)
    for name, info in GridStrategyConfig.model_fields.items():
        assert hints[name] == info.annotation, name
    assert params.MAX_GRID_NUM == model.MAX_GRID_NUM
    for name in ("GridMode", "GridType", "BoundaryAction", "LimitAction", "ThroughMarketClose"):
        assert getattr(params, name) == getattr(model, name), name


def wire(config: GridStrategyConfig) -> Any:
    # As config/bot_wire.py sends it, through JSON text as it crosses the pipe.
    return json.loads(json.dumps(config.model_dump(mode="json")))


def test_wire_round_trip_is_exact() -> None:
    validated = GridStrategyConfig.model_validate(FULL)
    got = GridParams.from_wire(wire(validated))
    assert got == GridParams.of(validated)
    assert got.order_quantity == Decimal("0.123456789")
    assert isinstance(got.grid_lower_price, Decimal) and isinstance(got.duration_s, float)
    assert got.stop_loss == Decimal(600) and got.max_position is None
    with pytest.raises(AttributeError):
        got.grid_num = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("grid_lower_price", 90.5),  # a float would be a binary approximation of money
        ("grid_lower_price", "NaN"),
        ("grid_lower_price", "abc"),
        ("grid_num", "11"),
        ("grid_num", True),
        ("grid_mode", "spiral"),
        ("post_only", "yes"),
        ("grid_upper_price", None),
    ],
)
def test_wire_shapes_are_checked(key: str, value: object) -> None:
    doc = wire(GridStrategyConfig.model_validate(FULL))
    doc[key] = value
    with pytest.raises(ConfigError, match=f"strategy_config.{key}"):
        GridParams.from_wire(doc)


def test_wire_keys_must_match() -> None:
    doc = wire(GridStrategyConfig.model_validate(FULL))
    with pytest.raises(ConfigError, match="disagree"):
        GridParams.from_wire({**doc, "grid_step": "1"})
    del doc["post_only"]
    with pytest.raises(ConfigError, match="post_only"):
        GridParams.from_wire(doc)


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GK_TEST_KEY", "pub-key")
    monkeypatch.setenv("GK_TEST_SECRET", "s3cret-seed")


def _instance(tmp_path: Path, **over: Any) -> Path:
    doc: dict[str, Any] = {
        "metadata": {
            "instance_id": "g1",
            "exchange": "paper",
            "symbol": "SOL_USDC",
            "strategy": "grid",
        },
        "daemon_config": {"web_port": 18123},
        "exchange_config": {"api_key": "${GK_TEST_KEY}", "api_secret": "${GK_TEST_SECRET}"},
        "strategy_config": dict(FULL),
    }
    for key, value in over.items():
        doc[key] = value
    path = tmp_path / "g1.json"
    path.write_text(json.dumps(doc))
    return path


def test_the_resolver_reads_a_real_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = _instance(tmp_path)
    got = load(path, None)
    assert isinstance(got, BotConfig)
    assert (got.name, got.symbol, got.strategy_kind) == ("g1", "SOL_USDC", "grid")
    assert got.web_port == 18123
    assert got.exchange.api_secret == "s3cret-seed" and "s3cret-seed" in got.secrets
    assert "s3cret" not in repr(got.exchange) and "s3cret" not in repr(got)
    assert got.exchange.base_url == "http://127.0.0.1:8686"  # the model's default, resolved there
    expected = load_instance(path, load_settings(None)).strategy
    assert expected is not None
    assert got.strategy == GridParams.of(expected)


@pytest.mark.parametrize(
    ("over", "words"),
    [
        (
            {"strategy_config": {**FULL, "grid_lower_price": "120"}},
            ["strategy_config.grid_lower_price", "must be below grid_upper_price"],
        ),
        ({"strategy_config": {**FULL, "grid_num": 1}}, ["strategy_config.grid_num"]),
        ({"strategy_config": {**FULL, "grid_stepz": 1}}, ["grid_stepz"]),
        ({"daemon_config": {}}, ["daemon_config.web_port is required"]),
        (
            {
                "metadata": {"instance_id": "g1", "exchange": "paper", "symbol": "SOL_USDC"},
                "daemon_config": {"web_port": 18123, "command": ["sleep", "1"]},
                "strategy_config": None,
            },
            ["metadata.strategy must be 'grid' or 'perp_grid'"],
        ),
    ],
)
def test_a_refused_file_is_fatal_with_the_loaders_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, over: dict[str, Any], words: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _instance(tmp_path, **over)
    with pytest.raises(BotFatal) as err:
        load(path, None)
    assert err.value.exit_code == 78
    message = str(err.value)
    assert str(path) in message or path.name in message
    for word in words:
        assert word in message, message
    try:  # the same words the loader itself gives (what the bot printed before)
        load_instance(path, load_settings(None))
    except ConfigError as exc:
        assert str(exc) == message


def test_a_missing_file_is_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BotFatal, match=r"nope\.json"):
        load(tmp_path / "nope.json", None)


def test_a_broken_answer_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        parse({"ok": True, "name": "x"})
    with pytest.raises(ConfigError):
        parse([])


def test_the_resolver_refuses_a_terminal(tmp_path: Path) -> None:
    """Its answer holds the exchange secret: never printed on a screen."""
    import pty

    path = _instance(tmp_path)
    leader, follower = pty.openpty()
    done = subprocess.run(
        [sys.executable, "-m", "gridkeeper.config.bot_wire", "--config", str(path)],
        stdout=follower,
        stderr=subprocess.PIPE,
        check=False,
        timeout=60,
    )
    os.close(follower)
    os.close(leader)
    assert done.returncode == 2 and b"refusing" in done.stderr
