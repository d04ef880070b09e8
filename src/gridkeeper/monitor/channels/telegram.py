"""Telegram: Bot API `sendMessage` with HTML formatting.

Success only when the API answers `{"ok": true}`; a 429 (or any answer) carrying
`parameters.retry_after` makes the outbox wait that long. The bot token is part of the URL, so
error messages never include the URL.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import httpx

from gridkeeper.monitor.channels.base import DeliveryError, body_lines, headline

if TYPE_CHECKING:  # the monitor process never imports pydantic (monitor/settings_view.py)
    from gridkeeper.config.monitor import TelegramChannel

MAX_TEXT = 4096  # the Bot API's limit on one message


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def render(payload: dict[str, Any]) -> str:
    """The message text, every value HTML-escaped (a `<` in a summary must not break it).

    The limit counts the visible text, so it is cut before escaping: cutting after could split
    an entity (`&am`) or the closing tag, and the API would refuse the message for good.
    """
    head = _cut(headline(payload), MAX_TEXT)
    body = _cut("\n".join(body_lines(payload)), MAX_TEXT - len(head) - 1)
    text = f"<b>{html.escape(head)}</b>"
    return f"{text}\n{html.escape(body)}" if body else text


class TelegramSender:
    name = "telegram"

    def __init__(self, config: TelegramChannel) -> None:
        self.config = config
        self.min_level: str = config.min_level
        self._client = httpx.Client(timeout=config.timeout, follow_redirects=False)

    def send(self, payload: dict[str, Any], delivery_id: str) -> None:
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
            f"telegram: HTTP {resp.status_code}: {description}",
            retry_after=retry_after,
            status=resp.status_code,
        )

    def close(self) -> None:
        self._client.close()
