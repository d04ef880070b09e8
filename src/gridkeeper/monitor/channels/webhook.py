"""Webhook: the notification payload as a JSON POST, signed when a secret is set.

Headers: `Content-Type: application/json`, `X-Gridkeeper-Delivery: <id>` (the same id on every
retry of one notification, for de-duplication; delivery is at-least-once) and, with a secret,
`X-Gridkeeper-Signature: sha256=<hex HMAC-SHA256 of the raw body>`. Any 2xx is success.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from gridkeeper.monitor.channels.base import DeliveryError

if TYPE_CHECKING:  # the monitor process never imports pydantic (monitor/settings_view.py)
    from gridkeeper.config.monitor import WebhookChannel

SIGNATURE_HEADER = "X-Gridkeeper-Signature"
DELIVERY_HEADER = "X-Gridkeeper-Delivery"


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the outbox's own backoff is good enough


class WebhookSender:
    name = "webhook"

    def __init__(self, config: WebhookChannel) -> None:
        self.config = config
        self.min_level: str = config.min_level
        self._client = httpx.Client(timeout=config.timeout, follow_redirects=False)

    def send(self, payload: dict[str, Any], delivery_id: str) -> None:
        body = orjson.dumps(payload)
        headers = {"Content-Type": "application/json", DELIVERY_HEADER: delivery_id}
        secret = self.config.secret.get_secret_value()
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, body)
        try:
            resp = self._client.post(self.config.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook: {type(exc).__name__}: {exc}") from exc
        if not 200 <= resp.status_code < 300:
            raise DeliveryError(
                f"webhook: HTTP {resp.status_code}",
                retry_after=retry_after_seconds(resp.headers.get("Retry-After")),
                status=resp.status_code,
            )

    def close(self) -> None:
        self._client.close()
