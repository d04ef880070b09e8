"""Paper exchange setup: shipped config, loader errors, accounts, tokens, price sources, CLI."""

from __future__ import annotations

import asyncio
import base64
import stat
from decimal import Decimal as D
from pathlib import Path

import orjson
import pytest

from gridkeeper.cli.main import main
from gridkeeper.config.loader import load_model
from gridkeeper.config.paper_exchange import PaperExchangeConfig, PriceSource
from gridkeeper.errors import ConfigError
from gridkeeper.exchange import signing
from gridkeeper.exchange.paper.accounts import admin_token, resolve_accounts
from gridkeeper.exchange.paper.prices import PriceFeed, walk_step
from gridkeeper.exchange.paper.service import market_spec

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "paper_exchange.json"


def test_shipped_config_loads_with_demo_account(tmp_path: Path) -> None:
    """The shipped file validates; without PAPER_DEMO_SECRET a key pair is generated once, 0600."""
    config = load_model(SHIPPED, PaperExchangeConfig, env={})
    assert [m.symbol for m in config.markets] == ["SOL_USDC", "SOL_USDC_PERP"]
    [account] = resolve_accounts(config, tmp_path)
    key_file = tmp_path / "paper" / "demo-account.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    stored = orjson.loads(key_file.read_bytes())
    assert set(stored) == {"api_key", "api_secret"}
    assert signing.public_key_of(stored["api_secret"]) == stored["api_key"] == account.api_key
    assert account.balances == {"USDC": D("10000"), "SOL": D("100")}
    [again] = resolve_accounts(config, tmp_path)
    assert again.api_key == account.api_key


def test_demo_secret_from_environment(tmp_path: Path) -> None:
    """PAPER_DEMO_SECRET supplies the demo key; no file is written."""
    secret, public = signing.keygen()
    config = load_model(SHIPPED, PaperExchangeConfig, env={"PAPER_DEMO_SECRET": secret})
    [account] = resolve_accounts(config, tmp_path)
    assert account.api_key == public
    assert not (tmp_path / "paper" / "demo-account.json").exists()


def test_loader_errors_name_file_and_key(tmp_path: Path) -> None:
    """A bad value is a ConfigError with the file and the JSON path."""
    data = orjson.loads(SHIPPED.read_bytes())
    data["markets"][1]["tick_size"] = "-1"
    path = tmp_path / "bad.json"
    path.write_bytes(orjson.dumps(data))
    with pytest.raises(ConfigError) as info:
        load_model(path, PaperExchangeConfig, env={})
    assert info.value.file == str(path) and info.value.loc == "markets[1].tick_size"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="invalid JSON"):
        load_model(path, PaperExchangeConfig, env={})


def test_admin_token_is_private_and_stable(tmp_path: Path) -> None:
    """The admin token is created 0600 once and read back afterwards."""
    token = admin_token(tmp_path)
    path = tmp_path / "paper" / "admin.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert admin_token(tmp_path) == token and len(token) >= 32


def test_random_walk_is_reproducible_and_on_tick(tmp_path: Path) -> None:
    """The same seed gives the same path; prices are rounded to the tick."""
    config = load_model(SHIPPED, PaperExchangeConfig, env={})
    spec = market_spec(config.markets[0])

    async def path(seed: int) -> list[D]:
        feed = PriceFeed(PriceSource(seed=seed, volatility=0.01), tmp_path)
        price, out = D("150"), []
        for step in range(20):
            nxt = await feed.next_price(spec, price, step)
            assert nxt is not None
            out.append(nxt)
            price = nxt
        return out

    first, again, other = asyncio.run(path(1)), asyncio.run(path(1)), asyncio.run(path(2))
    assert first == again != other
    assert all(p % D("0.01") == 0 for p in first)
    assert len(set(first)) > 5
    assert walk_step(1, "X", 3, D("100"), 0.0) == D("100")


def test_csv_replay(tmp_path: Path) -> None:
    """A CSV with a per-symbol column replays in order and loops."""
    csv_file = tmp_path / "prices.csv"
    csv_file.write_text("SOL_USDC,other\n150.004,1\n151,2\n")
    config = load_model(SHIPPED, PaperExchangeConfig, env={})
    spec = market_spec(config.markets[0])
    feed = PriceFeed(PriceSource(kind="csv", csv_path="prices.csv"), tmp_path)

    async def prices() -> list[D | None]:
        return [await feed.next_price(spec, D("1"), step) for step in range(3)]

    assert asyncio.run(prices()) == [D("150.00"), D("151"), D("150.00")]


def test_config_rejects_duplicates() -> None:
    """Duplicate market symbols are refused."""
    data = orjson.loads(SHIPPED.read_bytes())
    data["markets"].append(data["markets"][0])
    with pytest.raises(ValueError, match="duplicate symbol"):
        PaperExchangeConfig.model_validate(data)


def test_cli_keygen_and_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`exchange keygen` prints a working pair; a missing config exits 2 naming the file."""
    assert main(["exchange", "keygen"]) == 0
    out = capsys.readouterr().out.split()
    secret, public = out[2], out[-1]
    assert len(base64.b64decode(secret)) == 32
    assert signing.public_key_of(secret) == public
    missing = tmp_path / "nope.json"
    assert main(["exchange", "--config", str(missing), "--home", str(tmp_path)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_admin_token_moves_out_of_the_grid_bots_tokens_folder(tmp_path: Path) -> None:
    """A token file in <home>/tokens marks a grid bot (status columns, stop --cancel-orders):
    the exchange's admin token from an older home moves to <home>/paper, keeping its value."""
    legacy = tmp_path / "tokens" / "paper-exchange.token"
    legacy.parent.mkdir()
    legacy.write_text("old-admin-token-" + "x" * 20)
    legacy.chmod(0o600)
    assert admin_token(tmp_path) == "old-admin-token-" + "x" * 20
    assert not legacy.exists()
    assert (tmp_path / "paper" / "admin.token").read_text() == "old-admin-token-" + "x" * 20
