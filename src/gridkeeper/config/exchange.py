"""Model of an instance file's `exchange_config` section: where the Backpack API lives and the keys.

Owned by the exchange package: it defines what each key means. Keys normally come from
`${BACKPACK_KEY}` / `${BACKPACK_SECRET}` through the loader's substitution; a bot on the paper
exchange with no keys reads `<home>/paper/demo-account.json` instead.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from gridkeeper.config.base import StrictModel


class ExchangeConfig(StrictModel):
    """Connection to Backpack or to the local paper exchange (same API, different base URL)."""

    base_url: str = Field(
        "http://127.0.0.1:8686",
        description="REST base URL: https://api.backpack.exchange, or the paper exchange's URL.",
    )
    ws_url: str = Field(
        "ws://127.0.0.1:8686/ws",
        description="Websocket URL: wss://ws.backpack.exchange, or the paper exchange's /ws.",
    )
    api_key: SecretStr | None = Field(
        None, description="Base64 ED25519 public key (X-API-Key); usually ${BACKPACK_KEY}."
    )
    api_secret: SecretStr | None = Field(
        None, description="Base64 ED25519 32-byte seed that signs requests; ${BACKPACK_SECRET}."
    )
    window_ms: int = Field(
        5000,
        ge=1,
        le=60000,
        description="Milliseconds a signed request stays valid (X-Window); Backpack allows 60000.",
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
