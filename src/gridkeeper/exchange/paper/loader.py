"""Reads `config/paper_exchange.json` (a stand-in until the shared config loader takes over)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import orjson
from pydantic import ValidationError

from gridkeeper.config.env import format_loc, substitute
from gridkeeper.config.paper_exchange import PaperExchangeConfig
from gridkeeper.errors import ConfigError


def load_paper_config(
    path: str | os.PathLike[str], env: Mapping[str, str] | None = None
) -> PaperExchangeConfig:
    """Parse, substitute `${VAR}`, validate; every failure is a ConfigError naming file and key."""
    file = str(path)
    try:
        raw = orjson.loads(Path(path).read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError("file not found", file=file) from exc
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc}", file=file) from exc
    data = substitute(raw, os.environ if env is None else env, file=file)
    try:
        return PaperExchangeConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(first["msg"], file=file, loc=format_loc(tuple(first["loc"]))) from exc
