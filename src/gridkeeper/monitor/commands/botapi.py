"""The four Bot API methods the commands need, over httpx.

The bot token is part of every URL (`<api_base>/bot<token>/<method>`), so no error raised here
ever carries the URL or httpx's message (which holds it): only the method, the HTTP status and
the API's own `description`.
"""

from __future__ import annotations

from typing import Any

import httpx

MAX_TEXT = 4096  # the Bot API's limit on one message


class BotApiError(Exception):
    """A call failed. `retry_after`: the delay the API asked for (a 429), if any."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


class BotApi:
    def __init__(self, api_base: str, token: str, timeout: float, poll_timeout: int) -> None:
        self._base = f"{api_base.rstrip('/')}/bot{token}"
        self.poll_timeout = poll_timeout
        # A long poll holds the request open poll_timeout seconds: the read timeout covers it.
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, read=timeout + poll_timeout), follow_redirects=False
        )

    def call(self, method: str, **params: Any) -> Any:
        """POST one method with a JSON body; its `result`, or BotApiError."""
        try:
            resp = self._client.post(f"{self._base}/{method}", json=params)
        except httpx.HTTPError as exc:
            # str(exc) can hold the URL and so the token: name the error class only.
            raise BotApiError(f"{method}: {type(exc).__name__}") from None
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise BotApiError(
                f"{method}: HTTP {resp.status_code}, not a Bot API answer", status=resp.status_code
            )
        if answer.get("ok") is True:
            return answer.get("result")
        retry_after = None
        params_ = answer.get("parameters")
        if isinstance(params_, dict) and isinstance(params_.get("retry_after"), int | float):
            retry_after = float(params_["retry_after"])
        description = str(answer.get("description", ""))[:200]
        raise BotApiError(
            f"{method}: HTTP {resp.status_code}: {description}",
            status=resp.status_code,
            retry_after=retry_after,
        )

    def get_updates(self, offset: int | None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {
            "timeout": self.poll_timeout,
            "allowed_updates": ["message", "callback_query"],
        }
        if offset is not None:
            params["offset"] = offset
        result = self.call("getUpdates", **params)
        if not isinstance(result, list):
            raise BotApiError("getUpdates: the result is not a list")
        return [u for u in result if isinstance(u, dict)]

    def send_message(
        self, chat_id: str | int, text: str, keyboard: list[list[dict[str, str]]] | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "chat_id": chat_id,
            "text": cut(text),
            "disable_web_page_preview": True,
        }
        if keyboard:
            params["reply_markup"] = {"inline_keyboard": keyboard}
        result = self.call("sendMessage", **params)
        return result if isinstance(result, dict) else {}

    def answer_callback(self, callback_id: str, text: str = "") -> None:
        params: dict[str, Any] = {"callback_query_id": callback_id}
        if text:
            params["text"] = cut(text, 200)
        self.call("answerCallbackQuery", **params)

    def edit_message(self, chat_id: str | int, message_id: int, text: str) -> None:
        """Replace a preview with its outcome; the keyboard goes (no reply_markup)."""
        self.call("editMessageText", chat_id=chat_id, message_id=message_id, text=cut(text))

    def close(self) -> None:
        self._client.close()
