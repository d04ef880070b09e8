"""Helpers the grid bot's integration tests share: live orders, the CLI, monitor alerts, loops."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from gridkeeper.gridreport import GridReport, read_report, report_path

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


def report(bot: Bot) -> GridReport | None:
    """The bot's trading report for the monitor (what its grid alerts are made from)."""
    return read_report(report_path(bot.home, bot.name))


def loops_pass(bot: Bot, seconds: float) -> None:
    """Wait until the bot's loop has run for `seconds` more (several full reconciles)."""
    start = bot.get("/health/detailed")["last_loop_at"]
    wait_for(
        lambda: bot.get("/health/detailed")["last_loop_at"] >= start + seconds,
        what=f"{seconds}s of bot loops",
    )
