"""The durable outbox: every notification is a row in monitor.db until its channel accepts it.

Each channel has its own worker thread and its own FIFO queue, so a channel that is down (or
slow) delays only itself and its messages arrive in order once it is back. Failed deliveries
wait with exponential backoff (or the delay the far end asked for); the wait is stored with the
row, so a restarted monitor resumes exactly where it stopped.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from gridkeeper import backoff
from gridkeeper.monitor.channels.base import Channel, DeliveryError, rfc3339
from gridkeeper.monitor.rules import Transition, level_rank
from gridkeeper.monitor.store import Store

log = logging.getLogger("gridkeeper.monitor.outbox")
IDLE_POLL = 5.0
# A permanent refusal (a 4xx other than 408/429) this many times in a row: the notification is
# given up, or it would block its channel's FIFO queue for max_age.
PERMANENT_ATTEMPTS = 5


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff between attempts of one notification."""

    initial: float = 2.0
    maximum: float = 300.0
    max_age: float = 7 * 86400.0

    def delay(self, attempts: int) -> float:
        """Wait after the `attempts`-th failure: doubling, capped, with a little jitter."""
        return min(
            self.maximum, backoff.delay(attempts - 1, self.initial, self.maximum, jitter=0.2)
        )


def build_payload(transition: Transition, *, host: str, now: float) -> dict[str, Any]:
    """The notification every channel renders (and the webhook's JSON body, as is)."""
    a = transition.alert
    return {
        "version": 1,
        "kind": transition.kind,
        "status": "resolved" if transition.kind == "resolved" else "firing",
        "alert_id": a.id,
        "fingerprint": a.fingerprint,
        "rule": a.rule,
        "subject": a.subject,
        "level": a.level,
        "summary": a.summary,
        "labels": dict(a.labels),
        "started_at": rfc3339(a.active_since),
        "fired_at": rfc3339(a.fired_at),
        "resolved_at": rfc3339(a.resolved_at),
        "host": host,
        "created_at": rfc3339(now),
    }


class Outbox:
    """Routes notifications to channels by level and delivers them, one worker per channel."""

    def __init__(
        self,
        store: Store,
        channels: Sequence[Channel],
        retry: RetryPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.channels = list(channels)
        self.retry = retry
        self.clock = clock
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._wake = {ch.name: threading.Event() for ch in self.channels}
        self._threads: list[threading.Thread] = []

    def enqueue(self, transition: Transition) -> list[int]:
        """Store the notification once per channel whose `min_level` it reaches."""
        now = self.clock()
        payload = build_payload(transition, host=self.host, now=now)
        body = orjson.dumps(payload)
        ids = []
        for ch in self.channels:
            if level_rank(transition.alert.level) >= level_rank(ch.min_level):
                ids.append(
                    self.store.enqueue(ch.name, transition.alert.id, transition.kind, body, now)
                )
                self._wake[ch.name].set()
        return ids

    def start(self) -> None:
        for ch in self.channels:
            t = threading.Thread(
                target=self._worker, args=(ch,), name=f"outbox-{ch.name}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for ev in self._wake.values():
            ev.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for ch in self.channels:
            ch.close()

    def _worker(self, ch: Channel) -> None:
        wake = self._wake[ch.name]
        while not self._stop.is_set():
            wake.clear()
            try:
                wait = self.step(ch)
            except Exception:  # a bug or a locked database must not kill delivery for good
                log.exception("outbox worker for %s failed; retrying", ch.name)
                wait = self.retry.initial
            if wait > 0:
                wake.wait(wait)

    def step(self, ch: Channel) -> float:
        """Try the head of `ch`'s queue once; returns how long to wait before the next step."""
        row = self.store.outbox_head(ch.name)
        if row is None:
            return IDLE_POLL
        now = self.clock()
        if row["next_attempt_at"] > now:
            return float(row["next_attempt_at"] - now)
        if now - row["created_at"] > self.retry.max_age:
            log.error(
                "giving up notification %s on %s after %s attempts: %s",
                row["id"],
                ch.name,
                row["attempts"],
                row["last_error"],
            )
            self.store.outbox_failed(row["id"], row["last_error"], now, dead=True)
            return 0.0
        payload = orjson.loads(row["payload"])
        try:
            ch.send(payload, row["delivery_id"] or str(row["id"]))
        except DeliveryError as exc:
            if exc.permanent and int(row["attempts"]) + 1 >= PERMANENT_ATTEMPTS:
                log.error(
                    "giving up notification %s on %s: refused %d times: %s",
                    row["id"],
                    ch.name,
                    int(row["attempts"]) + 1,
                    exc,
                )
                self.store.outbox_failed(row["id"], str(exc), now, dead=True)
                return 0.0
            return self._failed(ch, row, str(exc), exc.retry_after, now)
        except Exception as exc:  # a channel bug counts as a failed attempt, never a lost message
            return self._failed(ch, row, f"{type(exc).__name__}: {exc}", None, now)
        self.store.outbox_delivered(row["id"], self.clock())
        return 0.0

    def _failed(
        self, ch: Channel, row: dict[str, Any], error: str, retry_after: float | None, now: float
    ) -> float:
        attempts = int(row["attempts"]) + 1
        wait = retry_after if retry_after is not None else self.retry.delay(attempts)
        # Retry-After 0 would spin; a huge one would stall the channel for days.
        wait = min(self.retry.maximum, max(self.retry.initial, wait))
        log.warning(
            "notification %s on %s failed (attempt %d, next in %.1fs): %s",
            row["id"],
            ch.name,
            attempts,
            wait,
            error,
        )
        self.store.outbox_failed(row["id"], error, now + wait, dead=False)
        return wait
