"""Model of an instance file's `exchange_config` section: where the Backpack API lives and the keys.

Owned by the exchange package: it defines what each key means. Keys normally come from
`${BACKPACK_KEY}` / `${BACKPACK_SECRET}` through the loader's substitution; a bot on the paper
exchange with no keys reads `<home>/paper/demo-account.json` instead.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from gridkeeper.config.base import StrictModel

PAPER_ENDPOINTS = ("http://127.0.0.1:8686", "ws://127.0.0.1:8686/ws")
BACKPACK_ENDPOINTS = ("https://api.backpack.exchange", "wss://ws.backpack.exchange")
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


def default_endpoints(exchange: str) -> tuple[str, str]:
    """(base_url, ws_url) an instance gets when it does not set them: they follow
    `metadata.exchange`, so a real config never talks to the local paper exchange by accident."""
    return BACKPACK_ENDPOINTS if exchange == "backpack" else PAPER_ENDPOINTS


def with_default_endpoints(exchange: str, section: Any) -> Any:
    """The raw `exchange_config` mapping with the missing URLs filled in for `exchange`."""
    if section is None:
        section = {}
    if not isinstance(section, dict):
        return section  # not a mapping: let validation name the error
    base, ws = default_endpoints(exchange)
    given = section.get("base_url")
    if isinstance(given, str) and "ws_url" not in section:
        ws = local_ws_url(given) or ws
    return {"base_url": base, "ws_url": ws, **section}


def local_ws_url(base_url: str) -> str | None:
    """The websocket of a base_url on this machine (the paper exchange serves it at /ws), so a
    seed config that points only `base_url` at the paper exchange never streams from Backpack."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if not (host in LOCAL_HOSTS or host.startswith("127.")):
        return None
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}/ws"


def endpoint_warnings(exchange: str, config: ExchangeConfig) -> list[str]:
    """A `backpack` instance whose URLs point at this machine trades on whatever listens there
    (usually the paper exchange): legal for a test rig, never what a real account wants."""
    if exchange != "backpack":
        return []
    found = []
    urls = (config.base_url, config.ws_url)
    pairs = zip(("base_url", "ws_url"), urls, BACKPACK_ENDPOINTS, strict=True)
    for key, url, real in pairs:
        host = urlsplit(url).hostname or ""
        if host in LOCAL_HOSTS or host.startswith("127."):
            found.append(
                f"exchange_config.{key}: metadata.exchange is 'backpack' but {url} is this "
                f"machine (the paper exchange?); Backpack is {real}"
            )
    return found


class ExchangeConfig(StrictModel):
    """Connection to Backpack or to the local paper exchange (same API, different base URL)."""

    base_url: str = Field(
        PAPER_ENDPOINTS[0],
        description="REST base URL. Default follows metadata.exchange: backpack "
        "https://api.backpack.exchange, paper http://127.0.0.1:8686.",
    )
    ws_url: str = Field(
        PAPER_ENDPOINTS[1],
        description="Websocket URL. Default: ws://HOST:PORT/ws when base_url is on this machine, "
        "else by metadata.exchange: backpack wss://ws.backpack.exchange, paper "
        "ws://127.0.0.1:8686/ws.",
    )
    api_key: SecretStr | None = Field(
        None, description="Base64 ED25519 public key (X-API-Key); usually ${BACKPACK_KEY}."
    )
    api_secret: SecretStr | None = Field(
        None,
        description="Base64 ED25519 32-byte seed that signs requests; ${BACKPACK_SECRET}. "
        "The seed's name secret_key is read as this key.",
    )
    window_ms: int = Field(
        5000,
        ge=1,
        le=60000,
        description="Milliseconds a signed request stays valid (X-Window); Backpack allows 60000. "
        "The seed's name default_window is read as this key.",
    )
    timeout_s: float = Field(
        10.0, gt=0, le=120, description="Seconds before one HTTP request is abandoned."
    )
    max_retries: int = Field(
        3,
        ge=0,
        le=10,
        description="Retries of a read or cancel after a timeout, 429 or 5xx (never of an order).",
    )

    @model_validator(mode="before")
    @classmethod
    def _long_window(cls, data: Any) -> Any:
        # The seed's default_window may exceed our default timeout; an unset timeout follows it
        # (see _outlasts_window) instead of refusing a file the seed ran.
        if isinstance(data, dict) and "timeout_s" not in data:
            window = data.get("window_ms")
            if isinstance(window, int | float) and not isinstance(window, bool) and window > 10000:
                return {**data, "timeout_s": min(window / 1000, 120.0)}
        return data

    @field_validator("base_url", "ws_url")
    @classmethod
    def _absolute_url(cls, value: str, info: ValidationInfo) -> str:
        # A URL without its scheme passed here, and the bot then died on its first request with
        # a traceback and exit 1: the keeper restarted it for ever instead of saying why.
        schemes = ("http", "https") if info.field_name == "base_url" else ("ws", "wss")
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(
                f"must be an absolute {' or '.join(s + '://' for s in schemes)} URL with a host"
            )
        return value

    @field_validator("timeout_s")
    @classmethod
    def _outlasts_window(cls, value: float, info: ValidationInfo) -> float:
        # An order POST that timed out can still reach the exchange until its signature window
        # closes; the bot looks it up by clientId after the timeout and may then place another.
        # With the timeout at least the window, a late arrival is always refused as expired.
        window = info.data.get("window_ms")
        if window is not None and value * 1000 < window:
            raise ValueError(
                f"must be at least window_ms ({window} ms = {window / 1000:g} s), or a timed-out "
                "order could still land after the bot looked for it"
            )
        return value
