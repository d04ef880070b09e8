"""R2 review: hostile command text to the monitor's Telegram command loop, against the Bot API
stand-in over real HTTP (the fixtures of tests/integration/telegram). Every bad command gets
a reply; none is dropped by an exception in the loop."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.telegram.conftest import (  # noqa: F401 (fixtures)
    CHAT,
    StartCommands,
    api,
    commands,
    reply,
)
from tests.integration.telegram.standin import BotApiStandIn

pytestmark = pytest.mark.integration


def test_ack_with_a_unicode_digit_or_a_huge_id_gets_an_answer(
    tmp_path: Path,
    api: BotApiStandIn,  # noqa: F811
    commands: StartCommands,  # noqa: F811
) -> None:
    """`"²".isdigit()` is true but `int("²")` raises ValueError (not a CommandError), and an id
    past 64 bits overflows SQLite: the loop logged an exception and the operator got nothing."""
    commands(tmp_path)
    api.say(CHAT, "/ack ²")
    assert reply(api, CHAT, 1).text == "usage: /ack ID"
    api.say(CHAT, "/ack 99999999999999999999999")
    assert "99999999999999999999999" in reply(api, CHAT, 2).text
