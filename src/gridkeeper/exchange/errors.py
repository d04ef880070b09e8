"""What went wrong talking to the exchange, classified by what the caller must do next.

    ExchangeError(code, message, status)      base; a subclass of GridkeeperError
    ├── RetryableError(retry_after_s)         send it again later: read timeouts, 429 (honour
    │                                         retry_after_s), 5xx on reads, MAINTENANCE
    ├── RejectedError                         the exchange said no; sending it again as is gets
    │   │                                     the same answer (INVALID_ORDER, INSUFFICIENT_FUNDS,
    │   │                                     PostOnlyTaker, RESOURCE_NOT_FOUND, ...)
    │   └── AuthError                         key, signature or timestamp refused (401, expired)
    └── UnknownOutcomeError                   an order POST timed out or its connection dropped:
                                              look the order up by clientId before resending

Third-party errors (httpx) are translated at the client's boundary, never leaked.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from gridkeeper.errors import GridkeeperError

# A 5xx carrying one of these codes was refused before anything happened, so even an order
# may be sent again: the engine never saw it.
_NOT_EXECUTED_CODES = frozenset({"MAINTENANCE", "TOO_MANY_REQUESTS", "TRADING_PAUSED"})
_AUTH_CODES = frozenset({"INVALID_SIGNATURE", "UNAUTHORIZED"})
DEFAULT_429_BACKOFF_S = 1.0


class ExchangeError(GridkeeperError):
    """An exchange request failed. `code` is Backpack's error code (or ours for transport)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        self.code = code
        self.message = message
        self.status = status
        where = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{code}: {message}{where}")

    @property
    def reason(self) -> str | None:
        """Backpack's expiry reason when the message names one (e.g. `PostOnlyTaker`)."""
        for name in ("PostOnlyTaker", "ReduceOnlyNotReduced", "PriceOutOfBounds"):
            if name in self.message:
                return name
        return None


class RetryableError(ExchangeError):
    """Transient: the same request may be sent again after `retry_after_s` (None: use backoff)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(code, message, status)
        self.retry_after_s = retry_after_s


class RejectedError(ExchangeError):
    """The exchange refused the request; repeating it unchanged is a bug."""


class AuthError(RejectedError):
    """The key, the signature or the timestamp was refused: fix keys or the clock, don't retry."""


class UnknownOutcomeError(ExchangeError):
    """An order may or may not exist: query it by clientId before sending it again."""


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `Retry-After` (delta seconds only; an HTTP date is rare from APIs)."""
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds)


def error_body(body: bytes) -> tuple[str | None, str]:
    """Backpack's `{"code","message"}`, tolerating anything else a proxy may answer."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, body[:200].decode("utf-8", "replace").strip()
    if isinstance(data, dict):
        code = data.get("code")
        message = data.get("message")
        return (str(code) if code is not None else None), str(message or "")
    return None, str(data)[:200]


def error_from_response(
    status: int, body: bytes, headers: Mapping[str, str], *, order_post: bool
) -> ExchangeError:
    """Classify a non-2xx answer. `order_post`: the request created an order."""
    code, message = error_body(body)
    if status == 429 or code == "TOO_MANY_REQUESTS":
        retry_after = parse_retry_after(headers)
        return RetryableError(
            code or "TOO_MANY_REQUESTS",
            message or "rate limited",
            status,
            retry_after if retry_after is not None else DEFAULT_429_BACKOFF_S,
        )
    if code == "MAINTENANCE" or (status == 503 and code in _NOT_EXECUTED_CODES):
        return RetryableError(code or "MAINTENANCE", message or "maintenance", status)
    if status >= 500:
        if order_post and code not in _NOT_EXECUTED_CODES:
            # The engine may have accepted the order before the error: only a lookup can tell.
            return UnknownOutcomeError(code or "SERVER_ERROR", message or f"HTTP {status}", status)
        return RetryableError(code or "SERVER_ERROR", message or f"HTTP {status}", status)
    if status == 401 and "expired" in (message or "").lower():
        # A stale timestamp (a clock step, a slow request) is not a bad key: the next request
        # is signed afresh. A refused request was not executed, so even an order may be resent.
        return RetryableError(
            code or "REQUEST_EXPIRED", f"{message} (check the host clock)", status
        )
    if status in (401, 403) or code in _AUTH_CODES:
        return AuthError(code or "UNAUTHORIZED", message or f"HTTP {status}", status)
    return RejectedError(code or "INVALID_CLIENT_REQUEST", message or f"HTTP {status}", status)
