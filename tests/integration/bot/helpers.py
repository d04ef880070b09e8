"""Helpers the grid bot's integration tests share: live orders, the CLI, monitor alerts, loops."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable

from .conftest import Bot, wait_for

MakeBot = Callable[..., Bot]
PERP = "SOL_USDC_PERP"


def live(bot: Bot) -> list[dict[str, str]]:
    return [o for o in bot.get("/api/grid")["open_orders"] if o["status"] == "live"]


def gk(bot: Bot, *args: str) -> subprocess.CompletedProcess[str]:
    """`gridkeeper ARGS` run from the bot's project directory."""
    return subprocess.run(
        [sys.executable, "-m", "gridkeeper", *args],
        cwd=bot.project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def custom_alerts(bot: Bot) -> dict[str, int]:
    """Custom alerts in the monitor's database: name -> active (what the monitor fires)."""
    path = bot.home / "monitor.db"
    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT name, active FROM custom_alerts").fetchall())


def loops_pass(bot: Bot, seconds: float) -> None:
    """Wait until the bot's loop has run for `seconds` more (several full reconciles)."""
    start = bot.get("/health/detailed")["last_loop_at"]
    wait_for(
        lambda: bot.get("/health/detailed")["last_loop_at"] >= start + seconds,
        what=f"{seconds}s of bot loops",
    )
