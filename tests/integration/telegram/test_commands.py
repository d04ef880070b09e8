"""The command loop against the Bot API stand-in: who is answered, help, errors, backoff,
secrets, one-time confirmations, and /alerts + /ack against a real monitor's store."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from pathlib import Path

import pytest

from gridkeeper.config.monitor import MonitorSettings, NotificationSettings
from gridkeeper.logs import configure_logging
from gridkeeper.monitor import raise_alert
from gridkeeper.monitor.commands.poller import TelegramCommands
from gridkeeper.monitor.outbox import RetryPolicy
from gridkeeper.monitor.service import MonitorService
from gridkeeper.monitor.store import Store
from tests import support
from tests.support import free_port

from .conftest import CHAT, OTHER_CHAT, TOKEN, StartCommands, reply, settings
from .standin import BotApiStandIn, Message


def test_help_answers_the_allowed_chat_and_nobody_else(
    tmp_path: Path,
    api: BotApiStandIn,
    commands: StartCommands,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="gridkeeper.monitor.telegram")
    _, actions = commands(tmp_path)
    api.say(OTHER_CHAT, "/help", user_id=9)
    api.say(CHAT, "/help")
    text = reply(api, CHAT, 1).text
    for command in ("/status", "/profit", "/alerts", "/ack", "/pause", "/resume", "/stop"):
        assert command in text
    assert "/adjust NAME LOWER UPPER" in text
    # The stranger's message was read before ours (same poll or earlier) and got nothing.
    assert api.sent_to(OTHER_CHAT) == []
    assert "chat 777 user 9 (not allowed)" in caplog.text
    assert actions == [
        {
            "command": "/help",
            "outcome": "ok",
            "chat_id": str(CHAT),
            "user_id": "42",
            "user": "user42",
        }
    ]


def test_bad_input_gets_a_usage_line_and_plain_chat_is_ignored(
    tmp_path: Path, api: BotApiStandIn, commands: StartCommands
) -> None:
    commands(tmp_path)
    api.say(CHAT, "hello there")
    api.say(CHAT, "/adjust sol 120 100")
    assert "must be below UPPER" in reply(api, CHAT, 1).text
    api.say(CHAT, "/pause ../etc")
    assert "not an instance name" in reply(api, CHAT, 2).text
    api.say(CHAT, "/frobnicate")
    assert "unknown command /frobnicate" in reply(api, CHAT, 3).text
    api.say(CHAT, "/ack x")
    assert reply(api, CHAT, 4).text == "usage: /ack ID"
    assert len(api.sent_to(CHAT)) == 4  # "hello there" had no answer


def test_a_disallowed_user_in_an_allowed_group_is_ignored(
    tmp_path: Path, api: BotApiStandIn, commands: StartCommands
) -> None:
    commands(tmp_path, allowed_chat_ids=[CHAT], allowed_user_ids=[42])
    api.say(CHAT, "/help", user_id=9)
    api.say(CHAT, "/alerts", user_id=42)
    assert "firing" in reply(api, CHAT, 1).text
    assert len(api.sent_to(CHAT)) == 1


def test_a_stale_command_is_not_acted_on(
    tmp_path: Path, api: BotApiStandIn, commands: StartCommands
) -> None:
    commands(tmp_path)
    api.say(CHAT, "/help", age=3600)
    api.say(CHAT, "/alerts")
    assert "firing" in reply(api, CHAT, 1).text
    assert len(api.sent_to(CHAT)) == 1


def test_a_wrong_token_backs_off_and_never_logs_the_token(
    tmp_path: Path,
    api: BotApiStandIn,
    commands: StartCommands,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="gridkeeper.monitor.telegram")
    commands(tmp_path, bot_token="999:wrong-token-zzzzzzzz")
    support.wait_for(lambda: caplog.text.count("HTTP 401") >= 2, 20, "two refused polls")
    assert "bot_token is wrong" in caplog.text
    assert "wrong-token" not in caplog.text and TOKEN not in caplog.text
    # Backing off, not spinning: RetryPolicy(0.1, 0.5) allows at most ~10 tries a second.
    assert len(api.requests) < 200


def test_an_api_that_is_down_is_retried_until_it_answers(
    tmp_path: Path, commands: StartCommands, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gridkeeper.monitor.telegram")
    port = free_port()  # nothing listens there yet: every poll fails
    loop, _ = commands(tmp_path, api_base=f"http://127.0.0.1:{port}")
    support.wait_for(lambda: "ConnectError" in caplog.text, 20, "a failed poll logged")
    late = BotApiStandIn(TOKEN).start(port)
    try:
        late.say(CHAT, "/help")
        assert "/status" in reply(late, CHAT, 1).text
        assert loop.offset is not None
    finally:
        late.stop()


def test_operator_actions_go_to_the_monitor_log(tmp_path: Path, api: BotApiStandIn) -> None:
    """Without a recorder, every action is an `operator_action` event of the process's log."""
    out = io.StringIO()
    configure_logging("info", json=True, stream=out)
    loop = TelegramCommands(tmp_path, settings(api), RetryPolicy(0.1, 0.5))
    loop.start()
    try:
        api.say(CHAT, "/alerts")
        reply(api, CHAT, 1)
        line = support.wait_for(
            lambda: next((x for x in out.getvalue().splitlines() if "operator_action" in x), None),
            10,
            "the operator_action record",
        )
    finally:
        loop.stop(wait=15)
        configure_logging("info", json=True, stream=sys.stderr)
    record = json.loads(line)
    assert record["kind"] == "event" and record["source"] == "telegram"
    assert record["command"] == "/alerts" and record["chat_id"] == str(CHAT)
    assert TOKEN not in out.getvalue()


def test_alerts_and_ack_against_the_running_monitor(tmp_path: Path, api: BotApiStandIn) -> None:
    home = tmp_path / "home"
    notifications = NotificationSettings(telegram=settings(api, enabled=False))
    service = MonitorService(
        home,
        MonitorSettings(interval=1),
        notifications,
        events=[],
        status=lambda: [],
        channels=[],
    )
    stop = threading.Event()
    runner = threading.Thread(target=service.run, args=(stop,), daemon=True)
    runner.start()
    try:
        support.wait_for(lambda: service.commands is not None, 10, "commands started")
        raise_alert("backup-failed", level="error", message="nightly backup failed", home=home)
        support.wait_for(lambda: service.firing(), 10, "the custom alert fires")
        api.say(CHAT, "/alerts")
        text = reply(api, CHAT, 1).text
        assert "1 firing" in text and "custom backup-failed" in text
        assert "nightly backup failed" in text
        alert_id = int(text.split("#", 1)[1].split()[0])
        api.say(CHAT, f"/ack {alert_id}")
        assert reply(api, CHAT, 2).text == f"alert #{alert_id} acknowledged: no more reminders"
        store = Store.open(home)
        try:
            row = next(r for r in store.list_alerts(0) if r["id"] == alert_id)
        finally:
            store.close()
        assert row["acked_at"] is not None
        api.say(CHAT, "/alerts")
        assert "acked" in reply(api, CHAT, 3).text
        api.say(CHAT, "/ack 99999")
        assert reply(api, CHAT, 4).text == "no alert #99999"
    finally:
        stop.set()
        runner.join(10)
        if service.commands is not None:
            service.commands.stop(wait=15)


def test_an_unknown_button_is_answered_and_the_outcome_still_reaches_the_chat(
    tmp_path: Path, api: BotApiStandIn, commands: StartCommands
) -> None:
    """A tap on a button from before a restart: its id is unknown. The preview it belongs to
    cannot be edited (the stand-in does not hold it), so the reply comes as a new message."""
    commands(tmp_path)
    ghost = Message(str(CHAT), 1, "Pause a?", [[{"text": "Pause a", "callback_data": "zz:go"}]])
    cq = api.press(ghost, "Pause a")
    text = reply(api, CHAT, 1).text
    assert text.endswith("this confirmation expired or was already used")
    assert api.answered[cq] == "this confirmation expired or was already used"
