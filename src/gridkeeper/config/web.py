"""The settings file's `web` section: the dashboard (`gridkeeper web`, docs/web.md).

Owned by the web package; embedded in `Settings` like `monitor`."""

from __future__ import annotations

from pydantic import Field, field_validator

from gridkeeper.config.base import StrictModel


class WebSettings(StrictModel):
    """The web dashboard. With `enabled` the keeper runs it as a built-in instance."""

    enabled: bool = Field(
        False, description="Run the dashboard as a built-in keeper instance (gridkeeper-web)."
    )
    host: str = Field(
        "127.0.0.1",
        description="Address to listen on. Keep 127.0.0.1 and put a TLS reverse proxy in front "
        "for remote use (docs/web.md).",
    )
    port: int = Field(8700, ge=1, le=65535, description="TCP port.")
    root_path: str = Field(
        "",
        description="Path prefix when served behind a reverse proxy (e.g. /gridkeeper); empty: "
        "taken from the proxy's X-Forwarded-Prefix header, if any.",
    )
    public_url: str = Field(
        "",
        description="The address operators open (e.g. https://ops.example.com/gridkeeper), for "
        "the link `gridkeeper web url` prints; empty: http://<host>:<port><root_path>.",
    )
    refresh_s: float = Field(
        5.0, ge=0.5, le=300, description="Seconds between refreshes of CPU, RSS, PnL and host."
    )

    @field_validator("root_path")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip()
        if value and (not value.startswith("/") or any(c in value for c in "?#\\ \"'<>")):
            raise ValueError("must be a path starting with /, e.g. /gridkeeper")
        return value.rstrip("/")
