"""Telegram commands' pure parts: parsing, one-time confirmations, settings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from gridkeeper.config.monitor import TelegramChannel
from gridkeeper.monitor.commands import render
from gridkeeper.monitor.commands.confirm import Confirmations
from gridkeeper.monitor.commands.parse import Command, CommandError, parse


def test_parse_commands() -> None:
    assert parse("/status") == Command("status")
    assert parse("/status@GridBot") == Command("status")
    assert parse("  /profit sol-a ") == Command("profit", instance="sol-a")
    assert parse("/ack #12") == Command("ack", alert_id=12)
    cmd = parse("/adjust sol-a 92.5 108")
    assert cmd == Command("adjust", instance="sol-a", lower=Decimal("92.5"), upper=Decimal(108))
    assert cmd.changes_state and cmd.describe() == "/adjust sol-a 92.5 108"
    assert parse("good morning") is None and parse("") is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("/pause", "usage: /pause NAME"),
        ("/pause a b", "usage: /pause NAME"),
        ("/pause ../x", "not an instance name"),
        ("/adjust a 100 90", "must be below UPPER"),
        ("/adjust a NaN 90", "must be a positive number"),
        ("/adjust a -1 90", "must be a positive number"),
        ("/adjust a x 90", "must be a number"),
        ("/ack", "usage: /ack ID"),
        ("/status now", "usage: /status"),
        ("/rm -rf", "unknown command /rm"),
    ],
)
def test_parse_refuses_bad_input(text: str, error: str) -> None:
    with pytest.raises(CommandError, match=error):
        parse(text)


def test_confirmations_are_one_time_and_expire() -> None:
    now = [1000.0]
    book = Confirmations(60, lambda: now[0])
    cmd = Command("pause", instance="a")
    first = book.add(cmd, "1", "2", {"go": ("Pause a", {"kind": "bot"})})
    data = first.keyboard()[0][0]["callback_data"]
    assert len(data.encode()) <= 64 and first.keyboard()[-1][0]["text"] == "Cancel"
    pending, choice = book.take(data)
    assert pending is first and choice == "go"
    assert book.take(data) == (None, "this confirmation expired or was already used")
    second = book.add(cmd, "1", "2", {"go": ("Pause a", {"kind": "bot"})})
    now[0] += 61
    assert book.take(f"{second.id}:go")[0] is None
    assert len(book) == 0
    third = book.add(cmd, "1", "2", {"go": ("Pause a", {"kind": "bot"})})
    assert book.take(f"{third.id}:rm")[0] is None  # a made-up choice runs nothing


def test_command_settings() -> None:
    t = TelegramChannel(commands=True, bot_token="123:abcdef", chat_id="5")
    assert t.command_chats() == {"5"}
    t = TelegramChannel(
        commands=True, bot_token="123:abcdef", allowed_chat_ids=[-1001, "7"], allowed_user_ids=[3]
    )
    assert t.command_chats() == {"-1001", "7"} and t.allowed_user_ids == ["3"]
    with pytest.raises(ValidationError, match="neither 'allowed_chat_ids' nor 'chat_id'"):
        TelegramChannel(commands=True, bot_token="123:abcdef")
    with pytest.raises(ValidationError, match="'bot_token' is empty"):
        TelegramChannel(commands=True, chat_id="5")
    assert TelegramChannel().commands is False


def test_render_adjust_preview_and_money() -> None:
    text = render.adjust_preview(
        "a",
        Decimal(92),
        Decimal(108),
        {
            "dry_run": True,
            "cancel": [{"side": "Bid", "quantity": "1", "price": "90"}],
            "place": [{"side": "Bid", "quantity": "1", "price": "92"}],
            "covers": ["position 0"],
            "warnings": ["tight"],
            "refused": None,
        },
    )
    assert "cancel (1):\n  Bid 1 @ 90" in text and "place (1):\n  Bid 1 @ 92" in text
    assert "warning: tight" in text and "REFUSED" not in text
    assert render.money("1.005") == "1.00" and render.money("x") == "?"
