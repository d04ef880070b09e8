"""A kind paper exchange (manual prices) and real bots on it, for the live parity test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.bot.conftest import PAPER_CONFIG, Bot, Paper, paper
from tests.support import free_port

__all__ = ["paper"]  # the bot tests' fixture, re-used here with `paper_config` below

# Kind: no spread model, no cancel delay, no history lag, no rate limit, no funding: what the
# bot sees after each price step cannot depend on when its loop ran.
KIND_CONFIG: dict[str, Any] = {**PAPER_CONFIG, "profile": "kind"}


@pytest.fixture
def paper_config() -> dict[str, Any]:
    """The bot tests' `paper` fixture, started with the kind profile."""
    return KIND_CONFIG


@pytest.fixture
def kind_paper(paper: Paper) -> Paper:
    return paper


@pytest.fixture
def kind_bot(
    kind_paper: Paper, tmp_path: Path
) -> Iterator[Callable[..., tuple[Bot, dict[str, Any]]]]:
    bots: list[Bot] = []
    project = tmp_path / "project"
    (project / "config" / "active").mkdir(parents=True)

    def make(name: str, symbol: str, strategy: str, **strat: Any) -> tuple[Bot, dict[str, Any]]:
        port = free_port()
        config = {
            "metadata": {
                "instance_id": name,
                "exchange": "paper",
                "symbol": symbol,
                "strategy": strategy,
            },
            "daemon_config": {"web_port": port},
            "exchange_config": {
                "base_url": kind_paper.url,
                "ws_url": kind_paper.url.replace("http", "ws") + "/ws",
            },
            "strategy_config": {
                "grid_lower_price": "90",
                "grid_upper_price": "110",
                "grid_num": 11,
                "order_quantity": "1",
                "poll_interval_s": 0.1,
                "reconcile_interval_s": 1.0,
                **strat,
            },
        }
        path = project / "config" / "active" / f"{name}.json"
        path.write_bytes(orjson.dumps(config))
        bot = Bot(name, project, kind_paper.home, port, path)
        bots.append(bot)
        return bot, config

    yield make
    for bot in bots:
        bot.stop()
