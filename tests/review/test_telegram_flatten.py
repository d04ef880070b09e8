"""R2 review: /stop's "cancel + flatten" from Telegram against a real keeper and a real spot grid
bot on the paper exchange (the fixtures of tests/integration/telegram and operations)."""

from __future__ import annotations

import pytest

from tests.integration.bot.conftest import wait_for
from tests.integration.operations.conftest import Ops, ops  # noqa: F401 (the fixture)
from tests.integration.telegram.conftest import (  # noqa: F401 (fixtures)
    StartCommands,
    api,
    commands,
    stop_with_flatten,
)
from tests.integration.telegram.standin import BotApiStandIn

pytestmark = pytest.mark.integration
NAME = "sol-tf"


def test_a_spot_flatten_that_worked_is_reported_done_not_failed(
    ops: Ops,  # noqa: F811
    api: BotApiStandIn,  # noqa: F811
    commands: StartCommands,  # noqa: F811
) -> None:
    """A spot grid keeps the inventory it started with, so after a flatten its `position` is
    not 0 (and with nothing bought beyond it no close is needed, so `closing` is never set).
    The reply judged by `position == 0 or closing` and said "FAILED ... this bot may not support
    flatten" for a bot that did it all (its answer echoes `"flatten": true`)."""
    port = ops.grid(NAME)
    assert ops.gk("start", "-d").returncode == 0, "start"
    wait_for(lambda: ops.view(NAME, port)["open_orders"], what="grid orders placed")
    commands(ops.home)
    outcome = stop_with_flatten(api, NAME)
    view = ops.view(NAME, port)
    assert view["status"] == "stopped" and not view.get("closing")
    assert "Done" in outcome, outcome
