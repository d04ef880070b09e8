"""Fixtures: the Bot API stand-in, and the monitor's Telegram command loop pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gridkeeper.config.monitor import TelegramChannel
from gridkeeper.monitor.commands.poller import TelegramCommands
from gridkeeper.monitor.outbox import RetryPolicy
from tests import support

from .standin import BotApiStandIn, Message

TOKEN = "123456:TEST-token-abcdefghijklmnop"
CHAT = 555
OTHER_CHAT = 777


@pytest.fixture
def api() -> Iterator[BotApiStandIn]:
    standin = BotApiStandIn(TOKEN).start()
    yield standin
    standin.stop()


def settings(api: BotApiStandIn, **overrides: Any) -> TelegramChannel:
    values: dict[str, Any] = {
        "enabled": True,
        "bot_token": TOKEN,
        "chat_id": str(CHAT),
        "api_base": api.url,
        "commands": True,
        "poll_timeout": 2,
        "timeout": 5,
        **overrides,
    }
    return TelegramChannel(**values)


Actions = list[dict[str, Any]]
StartCommands = Callable[..., tuple[TelegramCommands, Actions]]


@pytest.fixture
def commands(api: BotApiStandIn) -> Iterator[StartCommands]:
    """Start the command loop on a home; returns it and the operator actions it logged."""
    started: list[TelegramCommands] = []

    def start(home: Path, **overrides: Any) -> tuple[TelegramCommands, Actions]:
        actions: Actions = []
        loop = TelegramCommands(
            home,
            settings(api, **overrides),
            RetryPolicy(0.1, 0.5),
            on_action=lambda **f: actions.append(f),
        )
        loop.start()
        started.append(loop)
        return loop, actions

    yield start
    for loop in started:
        loop.stop(wait=15)  # the poll in flight ends within poll_timeout; then it closes


def reply(api: BotApiStandIn, chat: int, count: int, timeout: float = 30.0) -> Message:
    """The `count`-th message the bot sent to `chat` (1-based), once it is there."""
    found: list[Message] = support.wait_for(
        lambda: (m := api.sent_to(chat)) and len(m) >= count and m,
        timeout,
        f"reply #{count} in chat {chat}",
    )
    return found[count - 1]


def stop_with_flatten(api: BotApiStandIn, name: str) -> str:
    """/stop NAME in CHAT (its first message), "cancel + flatten" pressed: the outcome's text,
    once it says "Done" or "FAILED"."""
    api.say(CHAT, f"/stop {name}")
    stop = reply(api, CHAT, 1)
    api.press(stop, "Stop trading, cancel + flatten")
    outcome: str = support.wait_for(
        lambda: next((e for e in stop.edits if "Done" in e or "FAILED" in e), None),
        what="the stop's outcome",
    )
    return outcome


def edited(message: Message, containing: str, timeout: float = 60.0) -> str:
    """The message's text once an edit contains `containing`."""
    support.wait_for(
        lambda: any(containing in e for e in message.edits), timeout, f"edit with {containing!r}"
    )
    return next(e for e in message.edits if containing in e)
