"""The outbox keeps notifications while a channel is down and delivers them, in order, later."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from gridkeeper.config.monitor import TelegramChannel, WebhookChannel
from gridkeeper.monitor.channels.base import Channel
from gridkeeper.monitor.channels.telegram import TelegramSender
from gridkeeper.monitor.channels.webhook import WebhookSender
from gridkeeper.monitor.outbox import PERMANENT_ATTEMPTS, Outbox, RetryPolicy
from gridkeeper.monitor.rules import AlertBook, Observation, Policy, Transition
from gridkeeper.monitor.store import Store

from .servers import HttpReceiver, Request, free_port, valid_signature, wait_for

pytestmark = pytest.mark.integration
FAST = RetryPolicy(initial=0.05, maximum=0.2)


def _transitions(n: int, level: str = "error") -> list[Transition]:
    book = AlertBook(Policy())
    out = []
    for i in range(n):
        obs = Observation(rule="custom", subject=f"a{i}", active=True, level=level)  # type: ignore[arg-type]
        out += [t for t in book.observe(obs, 1000.0 + i) if t.notify]
    for i, t in enumerate(out):
        t.alert.id = i + 1
    return out


def _webhook(port: int) -> WebhookSender:
    return WebhookSender(
        WebhookChannel(
            enabled=True, url=f"http://127.0.0.1:{port}/h", secret=SecretStr("k"), timeout=2
        )
    )


def _subjects(receiver: HttpReceiver) -> list[str]:
    return [r.json()["subject"] for r in receiver.received()]


def test_down_webhook_gets_everything_in_order_when_back(tmp_path: Path) -> None:
    """Alerts raised while the receiver is down arrive, in order and signed, once it returns."""
    port = free_port()
    store = Store(tmp_path / "monitor.db")
    outbox = Outbox(store, [_webhook(port)], FAST)
    outbox.start()
    try:
        for t in _transitions(5):
            outbox.enqueue(t)
        wait_for(
            lambda: all(r["attempts"] >= 2 for r in store.outbox_rows()[:1]),
            what="failed attempts while down",
        )
        receiver = HttpReceiver(port=port).start()
        try:
            wait_for(lambda: len(receiver.received()) == 5, what="5 deliveries")
            assert _subjects(receiver) == [f"a{i}" for i in range(5)]
            assert all(valid_signature(r, "k") for r in receiver.received())
            # The receiver has the body before the outbox has its reply: wait for the mark.
            wait_for(lambda: store.outbox_pending_counts() == {}, what="outbox marked delivered")
        finally:
            receiver.stop()
    finally:
        outbox.stop()


def test_outbox_resumes_after_restart(tmp_path: Path) -> None:
    """Undelivered notifications survive a restart of the outbox (a new process's view)."""
    port = free_port()
    store = Store(tmp_path / "monitor.db")
    first = Outbox(store, [_webhook(port)], FAST)
    first.start()
    for t in _transitions(3):
        first.enqueue(t)
    wait_for(lambda: store.outbox_rows()[0]["attempts"] >= 1, what="a failed attempt")
    first.stop()
    store.close()

    receiver = HttpReceiver(port=port).start()
    store2 = Store(tmp_path / "monitor.db")
    second = Outbox(store2, [_webhook(port)], FAST)
    second.start()
    try:
        wait_for(lambda: len(receiver.received()) == 3, what="3 deliveries after restart")
        assert _subjects(receiver) == ["a0", "a1", "a2"]
    finally:
        second.stop()
        receiver.stop()


def test_failing_channel_does_not_block_others(tmp_path: Path) -> None:
    """With the webhook down, Telegram still delivers every message."""
    telegram = HttpReceiver().start()
    store = Store(tmp_path / "monitor.db")
    tg = TelegramSender(
        TelegramChannel(
            enabled=True, bot_token=SecretStr("1:x"), chat_id="5", api_base=telegram.url
        )
    )
    channels: list[Channel] = [_webhook(free_port()), tg]
    outbox = Outbox(store, channels, FAST)
    outbox.start()
    try:
        for t in _transitions(3):
            outbox.enqueue(t)
        # Distinct bodies: under load a request the client gave up on (timeout) but the server
        # took is sent again - at-least-once delivery, so count messages, not requests.
        wait_for(
            lambda: len({r.body for r in telegram.received()}) == 3, what="telegram deliveries"
        )
        wait_for(
            lambda: store.outbox_pending_counts() == {"webhook": 3}, what="only webhook pending"
        )
    finally:
        outbox.stop()
        telegram.stop()


def test_retry_after_is_honoured(tmp_path: Path) -> None:
    """Telegram's retry_after sets the next attempt; the message is delivered afterwards."""
    answers = [429, 200]

    def respond(req: Request) -> tuple[int, dict[str, str], bytes]:
        status = answers.pop(0) if answers else 200
        if status == 429:
            return 429, {}, b'{"ok": false, "parameters": {"retry_after": 1}}'
        return 200, {}, b'{"ok": true}'

    telegram = HttpReceiver(respond=respond).start()
    store = Store(tmp_path / "monitor.db")
    tg = TelegramSender(
        TelegramChannel(
            enabled=True, bot_token=SecretStr("1:x"), chat_id="5", api_base=telegram.url
        )
    )
    outbox = Outbox(store, [tg], RetryPolicy(initial=0.05, maximum=5.0))
    (t,) = _transitions(1)
    outbox.enqueue(t)
    assert outbox.step(tg) == 1.0
    row = store.outbox_rows()[0]
    assert row["next_attempt_at"] >= row["created_at"] + 1.0
    assert row["delivered_at"] is None and row["attempts"] == 1
    outbox.start()
    try:
        wait_for(lambda: store.outbox_rows()[0]["delivered_at"] is not None, what="delivery")
        assert len(telegram.received()) == 2
    finally:
        outbox.stop()
        telegram.stop()


def test_min_level_routes_per_channel(tmp_path: Path) -> None:
    """A warning reaches a channel with min_level warning but not one with min_level error."""
    store = Store(tmp_path / "monitor.db")
    low = WebhookSender(
        WebhookChannel(enabled=True, url="http://127.0.0.1:1/", min_level="warning")
    )
    high = TelegramSender(
        TelegramChannel(enabled=True, bot_token=SecretStr("1:x"), chat_id="5", min_level="error")
    )
    outbox = Outbox(store, [low, high], FAST)
    (t,) = _transitions(1, level="warning")
    outbox.enqueue(t)
    assert [r["channel"] for r in store.outbox_rows()] == ["webhook"]
    low.close()
    high.close()


def test_permanently_refused_notification_is_given_up_and_the_queue_moves_on(
    tmp_path: Path,
) -> None:
    """A 403 for one notification must not block the channel's FIFO for max_age (7 days)."""

    def respond(req: Request) -> tuple[int, dict[str, str], bytes]:
        return (403 if req.json()["subject"] == "a0" else 200), {}, b""

    receiver = HttpReceiver(respond=respond).start()
    store = Store(tmp_path / "monitor.db")
    outbox = Outbox(store, [_webhook(receiver.port)], FAST)
    for t in _transitions(2):
        outbox.enqueue(t)
    outbox.start()
    try:
        wait_for(lambda: store.outbox_rows()[1]["delivered_at"] is not None, what="second one")
        first = store.outbox_rows()[0]
        assert first["dead"] == 1 and first["attempts"] == PERMANENT_ATTEMPTS
        assert "HTTP 403" in first["last_error"] and first["delivered_at"] is None
        assert store.outbox_dead_counts() == {"webhook": 1}
        assert store.outbox_pending_counts() == {}
    finally:
        outbox.stop()
        receiver.stop()


@pytest.mark.parametrize("retry_after", ["0", "-5", "999999"])
def test_retry_after_is_clamped_to_the_retry_bounds(tmp_path: Path, retry_after: str) -> None:
    """Retry-After 0 would spin the worker; a huge one would stall the channel."""
    receiver = HttpReceiver(respond=lambda req: (503, {"Retry-After": retry_after}, b"")).start()
    store = Store(tmp_path / "monitor.db")
    hook = _webhook(receiver.port)
    outbox = Outbox(store, [hook], RetryPolicy(initial=0.5, maximum=60.0))
    try:
        (t,) = _transitions(1)
        outbox.enqueue(t)
        wait = outbox.step(hook)
        assert 0.5 <= wait <= 60.0
        row = store.outbox_rows()[0]
        assert row["next_attempt_at"] - row["created_at"] >= 0.5 - 1e-6
    finally:
        hook.close()
        receiver.stop()


def test_delivery_ids_are_unique_across_a_recreated_db(tmp_path: Path) -> None:
    """Row ids restart with a new monitor.db; a receiver deduplicating on the id must not."""
    receiver = HttpReceiver().start()
    try:
        for _ in range(2):
            (tmp_path / "monitor.db").unlink(missing_ok=True)
            store = Store(tmp_path / "monitor.db")
            hook = _webhook(receiver.port)
            outbox = Outbox(store, [hook], FAST)
            (t,) = _transitions(1)
            outbox.enqueue(t)
            outbox.step(hook)
            hook.close()
            store.close()
        ids = [r.headers["X-Gridkeeper-Delivery"] for r in receiver.received()]
        assert len(ids) == 2 and ids[0] != ids[1]
    finally:
        receiver.stop()
