"""API accounts of the paper exchange and the files it keeps in the keeper home."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import orjson

from gridkeeper.config.paper_exchange import PaperAccount, PaperExchangeConfig
from gridkeeper.errors import ConfigError
from gridkeeper.exchange import signing


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    api_key: str
    balances: dict[str, Decimal]


def _write_private(path: Path, data: bytes) -> None:
    """Create a 0600 file atomically (never readable by others, even for an instant)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def key_file(home: Path, name: str) -> Path:
    return home / "paper" / f"{name}-account.json"


def resolve_account(spec: PaperAccount, home: Path) -> Account:
    """The account's public key: configured, derived from its secret, or generated once."""
    secret = spec.api_secret.get_secret_value() if spec.api_secret else ""
    if secret:
        try:
            derived = signing.public_key_of(secret)
        except signing.InvalidKeyError as exc:
            raise ConfigError(str(exc), loc=f"accounts.{spec.name}.api_secret") from exc
        if spec.api_key and spec.api_key != derived:
            raise ConfigError(
                "api_key does not match api_secret", loc=f"accounts.{spec.name}.api_key"
            )
        return Account(spec.name, derived, dict(spec.balances))
    if spec.api_key:
        return Account(spec.name, spec.api_key, dict(spec.balances))
    path = key_file(home, spec.name)
    if path.exists():
        stored = orjson.loads(path.read_bytes())
        return Account(spec.name, str(stored["api_key"]), dict(spec.balances))
    seed, public = signing.keygen()
    _write_private(path, orjson.dumps({"api_key": public, "api_secret": seed}))
    return Account(spec.name, public, dict(spec.balances))


def resolve_accounts(config: PaperExchangeConfig, home: Path) -> list[Account]:
    return [resolve_account(spec, home) for spec in config.accounts]


def admin_token_path(home: Path) -> Path:
    """<home>/paper/admin.token: beside the exchange's other files, not in <home>/tokens, where
    a token file marks a grid bot's control API (`gridkeeper status`, `stop --cancel-orders`)."""
    return home / "paper" / "admin.token"


def admin_token(home: Path) -> str:
    """The bearer token of `/_paper/*`, created at first start (0600)."""
    path = admin_token_path(home)
    legacy = home / "tokens" / "paper-exchange.token"  # where it was until 2026-11-30
    if legacy.exists() and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        legacy.replace(path)
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    _write_private(path, token.encode())
    return token
