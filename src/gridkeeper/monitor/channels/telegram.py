"""Telegram: Bot API `sendMessage` with HTML formatting.

Success only when the API answers `{"ok": true}`; a 429 (or any answer) carrying
`parameters.retry_after` makes the outbox wait that long. The bot token is part of the URL, so
error messages never include the URL.
"""

from __future__ import annotations

import html
from typing import Any

import httpx

from gridkeeper.config.monitor import TelegramChannel
from gridkeeper.monitor.channels.base import DeliveryError, body_lines, headline

MAX_TEXT = 4096  # the Bot API's limit on one message


def render(payload: dict[str, Any]) -> str:
    """The message text, every value HTML-escaped (a `<` in a summary must not break it)."""
    lines = [f"<b>{html.escape(headline(payload))}</b>"]
    lines += [html.escape(line) for line in body_lines(payload)]
    text = "\n".join(lines)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


class TelegramSender:
    name = "telegram"

    def __init__(self, config: TelegramChannel) -> None:
        self.config = config
        self.min_level: str = config.min_level
        self._client = httpx.Client(timeout=config.timeout, follow_redirects=False)

    def send(self, payload: dict[str, Any], delivery_id: int) -> None:
        token = self.config.bot_token.get_secret_value()
        url = f"{self.config.api_base.rstrip('/')}/bot{token}/sendMessage"
        data = {
            "chat_id": self.config.chat_id,
            "text": render(payload),
            "parse_mode": "HTML",
            "disable_web_page_preview": True,
        }
        try:
            resp = self._client.post(url, json=data)
        except httpx.HTTPError as exc:
            # str(exc) can hold the URL and so the token: name the error class only.
            raise DeliveryError(f"telegram: {type(exc).__name__}") from None
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise DeliveryError(f"telegram: HTTP {resp.status_code}, not a Bot API answer")
        if answer.get("ok") is True:
            return
        params = answer.get("parameters")
        retry_after = None
        if isinstance(params, dict) and isinstance(params.get("retry_after"), int | float):
            retry_after = float(params["retry_after"])
        description = str(answer.get("description", ""))[:200]
        raise DeliveryError(
            f"telegram: HTTP {resp.status_code}: {description}", retry_after=retry_after
        )

    def close(self) -> None:
        self._client.close()
