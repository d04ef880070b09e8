"""The commands against a real keeper supervising a real grid bot on the paper exchange:
/status, /pause with confirm and with cancel, /adjust's preview, /stop and /start, /profit."""

from __future__ import annotations

import pytest

from tests.integration.bot.conftest import wait_for
from tests.integration.operations.conftest import Ops, ops  # noqa: F401 (the fixture)

from .conftest import CHAT, Actions, StartCommands, edited, reply, stop_with_flatten
from .standin import BotApiStandIn

NAME = "sol-tg"


@pytest.fixture
def port(ops: Ops) -> int:  # noqa: F811
    """Grid NAME started under the keeper, its orders placed: its bot's control port."""
    port = ops.grid(NAME)
    started = ops.gk("start", "-d")
    assert started.returncode == 0, started.stderr
    wait_for(lambda: ops.view(NAME, port)["open_orders"], what="grid orders placed")
    return port


@pytest.fixture
def actions(ops: Ops, port: int, commands: StartCommands) -> Actions:  # noqa: F811
    """The Telegram command loop on the keeper's home, once the grid is up: what it logs."""
    return commands(ops.home)[1]


def test_status_pause_confirm_and_cancel(
    ops: Ops,  # noqa: F811
    api: BotApiStandIn,
    port: int,
    actions: Actions,
) -> None:

    api.say(CHAT, "/status")
    status = reply(api, CHAT, 1).text
    assert f"{NAME}: running" in status
    assert "trading 90-110" in status and "orders" in status

    # /pause: a preview with buttons; nothing changes until confirmed.
    api.say(CHAT, f"/pause {NAME}")
    preview = reply(api, CHAT, 2)
    assert preview.text.startswith(f"Pause {NAME}?")
    assert set(preview.buttons()) == {f"Pause {NAME}", "Cancel"}
    assert ops.view(NAME, port)["status"] == "running"
    api.press(preview, f"Pause {NAME}")
    done = edited(preview, "Done")
    assert "paused" in done
    assert ops.view(NAME, port)["status"] == "paused"
    assert preview.keyboard is None  # the outcome replaced the buttons

    # /resume, then Cancel: nothing happens.
    api.say(CHAT, f"/resume {NAME}")
    resume = reply(api, CHAT, 3)
    cq = api.press(resume, "Cancel")
    assert "Cancelled: nothing done." in edited(resume, "Cancelled")
    wait_for(lambda: cq in api.answered, what="the callback answered")
    assert api.answered[cq] == "cancelled"
    assert ops.view(NAME, port)["status"] == "paused"

    outcomes = [(a["command"], a["outcome"]) for a in actions]
    assert outcomes == [
        ("/status", "ok"),
        (f"/pause {NAME}", "preview"),
        (f"/pause {NAME}", "done"),
        (f"/resume {NAME}", "preview"),
        (f"/resume {NAME}", "cancelled"),
    ]


def test_a_used_or_foreign_confirmation_runs_nothing(
    ops: Ops,  # noqa: F811
    api: BotApiStandIn,
    port: int,
    commands: StartCommands,
) -> None:
    commands(ops.home, allowed_user_ids=[42, 43])
    api.say(CHAT, f"/pause {NAME}")
    preview = reply(api, CHAT, 1)
    # Another allowed user may not confirm someone else's preview.
    other = api.press(preview, f"Pause {NAME}", user_id=43)
    wait_for(lambda: other in api.answered, what="the foreign tap answered")
    assert "only the operator who asked" in api.answered[other]
    assert ops.view(NAME, port)["status"] == "running"
    # Ours works; replaying the same callback data afterwards is refused.
    keyboard = dict(preview.buttons())
    api.press(preview, f"Pause {NAME}")
    edited(preview, "Done")
    preview.keyboard = [[{"text": "again", "callback_data": keyboard[f"Pause {NAME}"]}]]
    again = api.press(preview, "again")
    wait_for(lambda: again in api.answered, what="the replay answered")
    assert "expired or was already used" in api.answered[again]


@pytest.mark.usefixtures("actions")
def test_adjust_shows_a_preview_and_confirm_moves_the_range(
    ops: Ops,  # noqa: F811
    api: BotApiStandIn,
    port: int,
) -> None:
    api.say(CHAT, f"/adjust {NAME} 92 108")
    preview = reply(api, CHAT, 1)
    assert preview.text.startswith(f"Adjust {NAME} to 92 - 108")
    assert "now: trading 90-110" in preview.text
    answer = ops.view(NAME, port)
    assert (answer["grid_lower_price"], answer["grid_upper_price"]) == ("90", "110")
    if "No preview" in preview.text:
        # A bot without the dry-run contract: its refusal is shown, confirming still works.
        assert "dry_run" in preview.text
        label = f"Adjust {NAME} (no preview)"
    else:
        assert "cancel" in preview.text or "place" in preview.text
        label = f"Adjust {NAME}"
    api.press(preview, label)
    assert "trading 92-108" in edited(preview, "Done")
    view = ops.view(NAME, port)
    assert (view["grid_lower_price"], view["grid_upper_price"]) == ("92", "108")


@pytest.mark.usefixtures("actions")
def test_stop_and_start_through_the_keeper_and_profit(
    ops: Ops,  # noqa: F811
    api: BotApiStandIn,
) -> None:
    api.say(CHAT, f"/stop {NAME}")
    stop = reply(api, CHAT, 1)
    assert set(stop.buttons()) == {
        "Stop the process (orders stay)",
        "Stop trading, cancel orders",
        "Stop trading, cancel + flatten",
        "Cancel",
    }
    api.press(stop, "Stop the process (orders stay)")
    assert "stopped" in edited(stop, "Done")
    assert ops.status(NAME)[0]["state"] == "stopped"

    api.say(CHAT, "/stop gridkeeper-monitor")
    assert "would cut you off" in reply(api, CHAT, 2).text

    api.say(CHAT, f"/profit {NAME}")
    profit = reply(api, CHAT, 3).text
    assert profit.startswith(f"{NAME}: total ") and "fees" in profit

    api.say(CHAT, f"/start {NAME}")
    start = reply(api, CHAT, 4)
    assert start.text.startswith(f"Start {NAME}? (now: stopped)")
    api.press(start, f"Start {NAME}")
    edited(start, "Done")
    wait_for(lambda: ops.status(NAME)[0]["state"] == "running", what="running again")

    api.say(CHAT, "/pause nosuch")
    assert "no instance named 'nosuch'" in reply(api, CHAT, 5).text


@pytest.mark.usefixtures("actions")
def test_stop_trading_with_flatten_reports_what_really_happened(
    ops: Ops,  # noqa: F811
    api: BotApiStandIn,
    port: int,
) -> None:
    outcome = stop_with_flatten(api, NAME)
    view = ops.view(NAME, port)
    assert view["status"] == "stopped"  # the bot stays up, not trading
    assert ops.status(NAME)[0]["state"] == "running"
    if "FAILED" in outcome:
        # A bot that ignores "flatten": the reply must not claim a close that did not happen.
        assert "may not support flatten" in outcome
        assert view["position"] not in ("0", "0.00") and not view.get("closing")
    else:
        # A spot grid keeps the inventory it started with: "flat" is `closing` over, not 0.
        assert "Done" in outcome and view["status"] == "stopped"
