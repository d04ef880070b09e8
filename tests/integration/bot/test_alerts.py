"""Trading alerts end to end (issue 13): a real grid bot on the paper exchange writes its report,
a real monitor turns it into alerts, and a signed webhook on 127.0.0.1 receives them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from gridkeeper.config.monitor import (
    AlertRules,
    MonitorSettings,
    NotificationSettings,
    WebhookChannel,
)
from gridkeeper.monitor.service import MonitorService
from tests.integration.monitor.servers import HttpReceiver, valid_signature

from .conftest import Paper, wait_for
from .helpers import MakeBot, gk, live, report

pytestmark = pytest.mark.integration
SECRET = "grid-hook"


@pytest.fixture
def webhook() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


class Monitor:
    """A MonitorService on the bots' home, in a thread, with no keeper (reports only)."""

    def __init__(self, home: Path, webhook: HttpReceiver) -> None:
        notifications = NotificationSettings(
            webhook=WebhookChannel(
                enabled=True,
                url=f"{webhook.url}/hook",
                secret=SecretStr(SECRET),
                min_level="info",
            ),
            retry_initial=0.05,
            retry_max=0.3,
        )
        settings = MonitorSettings(interval=0.5, rules=AlertRules(resolve_after=0.5))
        self.service = MonitorService(home, settings, notifications, events=iter(()))
        self.stop_event = threading.Event()
        self.thread = threading.Thread(
            target=self.service.run, args=(self.stop_event,), daemon=True
        )
        self.thread.start()
        wait_for(lambda: self.service.outbox is not None, what="monitor started")

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def monitor(paper: Paper, webhook: HttpReceiver) -> Iterator[Monitor]:
    running = Monitor(paper.home, webhook)
    yield running
    running.stop()


def notes(webhook: HttpReceiver, rule: str) -> list[dict[str, Any]]:
    found = [r.json() for r in webhook.received() if r.json()["rule"] == rule]
    assert all(valid_signature(r, SECRET) for r in webhook.received())
    return found


def test_stop_loss_sends_exactly_one_grid_stopped_with_its_reason(
    paper: Paper, make_bot: MakeBot, webhook: HttpReceiver, monitor: Monitor
) -> None:
    """The price falls through the stop-loss: the bot stops; the webhook gets one
    grid_stopped (reason stop_loss, level error), and no second one while it stays stopped."""
    bot = make_bot("sl-grid", stop_loss="3", stop_loss_action="stop_only").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    paper.set_price("SOL_USDC", "95.9")  # the 5 SOL held lose about 20: past the stop-loss
    (note,) = wait_for(lambda: notes(webhook, "grid_stopped"), what="grid_stopped on the hook")
    assert note["kind"] == "firing" and note["subject"] == "sl-grid"
    assert note["level"] == "error" and note["labels"]["reason"] == "stop_loss"
    assert "stop_loss: total PnL" in note["summary"]
    # The bot keeps reporting (periodic rewrites) and the monitor keeps evaluating: still one
    # notification, and the grid is still stopped.
    first = report(bot)
    assert first is not None and first.status == "stopped"
    wait_for(
        lambda: (r := report(bot)) is not None and r.written_at > first.written_at + 5,
        what="two more report writes",
    )
    wait_for(lambda: not live(bot), what="the grid's orders cancelled")
    assert len(notes(webhook, "grid_stopped")) == 1
    assert bot.get("/api/grid")["status"] == "stopped"


def test_grid_pause_fires_grid_paused_and_resume_resolves_it(
    paper: Paper, make_bot: MakeBot, webhook: HttpReceiver, monitor: Monitor
) -> None:
    """`gridkeeper grid pause` → grid_paused (reason operator) on the hook; `grid resume` →
    one resolved message. No bot-to-monitor call: only the report file connects them."""
    bot = make_bot("pz-grid").start()
    wait_for(lambda: len(live(bot)) == 10, what="10 live orders")
    paused = gk(bot, "grid", "pause", "pz-grid", "--home", str(bot.home))
    assert paused.returncode == 0, paused.stderr
    (note,) = wait_for(lambda: notes(webhook, "grid_paused"), what="grid_paused on the hook")
    assert note["kind"] == "firing" and note["labels"]["reason"] == "operator"
    assert note["level"] == "warning" and note["subject"] == "pz-grid"
    resumed = gk(bot, "grid", "resume", "pz-grid", "--home", str(bot.home))
    assert resumed.returncode == 0, resumed.stderr
    wait_for(lambda: len(notes(webhook, "grid_paused")) == 2, what="resolved on the hook")
    assert [n["kind"] for n in notes(webhook, "grid_paused")] == ["firing", "resolved"]
    assert notes(webhook, "grid_stopped") == []
