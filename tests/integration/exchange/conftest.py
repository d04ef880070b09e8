"""A real paper exchange on a free loopback port, and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from gridkeeper.config.paper_exchange import PaperExchangeConfig
from gridkeeper.exchange import signing
from gridkeeper.exchange.paper.server import ServerThread

SECRET, PUBLIC = signing.keygen()


def paper_config(**overrides: Any) -> PaperExchangeConfig:
    data: dict[str, Any] = {
        "markets": [
            {
                "symbol": "SOL_USDC",
                "base_symbol": "SOL",
                "market_type": "SPOT",
                "initial_price": "150",
            },
            {
                "symbol": "SOL_USDC_PERP",
                "base_symbol": "SOL",
                "market_type": "PERP",
                "initial_price": "150",
            },
        ],
        "price_source": {"kind": "manual"},
        "accounts": [
            {"name": "test", "api_secret": SECRET, "balances": {"USDC": "10000", "SOL": "100"}}
        ],
    }
    data.update(overrides)
    return PaperExchangeConfig.model_validate(data)


class Paper:
    """Handle on a running paper exchange: URLs and the admin price control."""

    def __init__(self, server: ServerThread, home: Path) -> None:
        self.server = server
        self.home = home
        self.base_url = server.base_url
        self.ws_url = server.ws_url
        self.token = (home / "paper" / "admin.token").read_text().strip()

    def admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(
            self.base_url + path,
            json=body or {},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def set_price(self, symbol: str, price: str | Decimal) -> int:
        return int(self.admin("/_paper/price", {"symbol": symbol, "price": str(price)})["fills"])


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[Paper]:
    home = tmp_path / "home"
    server = ServerThread(paper_config(), home).start()
    try:
        yield Paper(server, home)
    finally:
        server.stop()
