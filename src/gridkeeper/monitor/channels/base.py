"""What every channel does and the rendering they share (a leaf: no channel is imported here).

A channel's `send` either returns (the far end accepted the message) or raises `DeliveryError`,
optionally with the delay the far end asked for. Channels never retry themselves: the outbox owns
retries, so a restart does not lose the count and a failing channel never blocks another.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol


class DeliveryError(Exception):
    """A notification was not accepted; `retry_after` is the far end's requested delay.

    `status` is the far end's HTTP status, when there was one: a 4xx other than 408/429 means
    retrying the same request will not help (the outbox gives it up after a few attempts).
    """

    def __init__(
        self, message: str, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status

    @property
    def permanent(self) -> bool:
        return (
            self.status is not None and 400 <= self.status < 500 and self.status not in (408, 429)
        )


class Channel(Protocol):
    """One destination of notifications."""

    name: str
    min_level: str

    def send(self, payload: dict[str, Any], delivery_id: str) -> None: ...

    def close(self) -> None: ...


def rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def headline(payload: dict[str, Any]) -> str:
    """`[gridkeeper] FIRING error instance_crashed bp_sol` — the same on every channel."""
    kind = str(payload.get("kind", "firing"))
    word = {"firing": "FIRING", "reminder": "STILL FIRING", "resolved": "RESOLVED"}.get(
        kind, kind.upper()
    )
    return (
        f"[gridkeeper] {word} {payload.get('level', '')} {payload.get('rule', '')} "
        f"{payload.get('subject', '')}"
    ).strip()


def body_lines(payload: dict[str, Any]) -> list[str]:
    lines = [str(payload.get("summary", ""))]
    for key in ("started_at", "fired_at", "resolved_at"):
        if payload.get(key):
            lines.append(f"{key.replace('_', ' ')}: {payload[key]}")
    lines.append(f"host: {payload.get('host', '')}  alert #{payload.get('alert_id', '')}")
    return lines
