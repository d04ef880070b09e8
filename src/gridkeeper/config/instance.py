"""The instance file (`config/active/*.json`) and the resolved instance the keeper runs.

A config for any program needs only the program; `exchange_config` and `strategy_config` are
required only when `metadata.strategy` names our grid bot.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import Field, field_validator, model_validator

from gridkeeper.config.base import StrictModel
from gridkeeper.config.exchange import ExchangeConfig, with_default_endpoints
from gridkeeper.config.seed import SUPPORTED_EXCHANGES
from gridkeeper.config.settings import HealthCheck, InstanceDaemon
from gridkeeper.config.strategy import GridStrategyConfig

GRID_STRATEGIES = frozenset({"grid", "perp_grid"})
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Metadata(StrictModel):
    """Who this instance is. Only `instance_id` matters to the keeper; the rest is for people
    and for the grid bot."""

    instance_id: str | None = Field(
        None, pattern=NAME_PATTERN, description="Instance name (default: the file stem)."
    )
    name: str | None = Field(None, description="A human title.")
    description: str | None = Field(None, description="Free text.")
    exchange: str = Field("paper", description='"paper" (the local paper exchange) or "backpack".')
    symbol: str | None = Field(None, description="Market symbol, e.g. SOL_USDC or SOL_USDC_PERP.")
    market_type: Literal["spot", "perp"] | None = Field(None, description="spot or perp.")
    strategy: str | None = Field(
        None, description='"grid" or "perp_grid" runs our grid bot; anything else is a label.'
    )
    account: str | None = Field(None, description="Label of the trading account.")
    tags: list[str] = Field(default_factory=list, description="Free labels.")
    version: str | None = Field(None, description='Free text (the seed\'s 1.0 is read as "1.0").')
    created_at: str | None = Field(None, description="Free text (the seed's creation date).")
    updated_at: str | None = Field(None, description="Free text (the seed's last edit date).")
    author: str | None = Field(None, description="Free text.")

    @field_validator("version", mode="before")
    @classmethod
    def _number_version(cls, value: Any) -> Any:
        # The seed wrote versions as strings and numbers alike.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value


class InstanceFile(StrictModel):
    """The instance file as written."""

    metadata: Metadata = Field(default_factory=Metadata, description="Identity and labels.")
    daemon_config: InstanceDaemon = Field(
        default_factory=InstanceDaemon, description="Overrides of the settings defaults."
    )
    exchange_config: ExchangeConfig | None = Field(
        None, description="Exchange connection (grid bot only)."
    )
    strategy_config: GridStrategyConfig | None = Field(
        None, description="Grid parameters (grid bot only)."
    )

    @property
    def is_grid_bot(self) -> bool:
        return self.metadata.strategy in GRID_STRATEGIES

    @model_validator(mode="before")
    @classmethod
    def _endpoints(cls, data: Any) -> Any:
        """Missing exchange URLs follow `metadata.exchange` (backpack: Backpack's own URLs), so
        a real config without `ws_url` never talks to the local paper exchange."""
        if not isinstance(data, dict):
            return data
        meta = data.get("metadata")
        exchange = meta.get("exchange", "paper") if isinstance(meta, dict) else "paper"
        strategy = meta.get("strategy") if isinstance(meta, dict) else None
        section = data.get("exchange_config")
        if section is None and strategy not in GRID_STRATEGIES:
            return data
        if not isinstance(exchange, str):
            return data
        return {**data, "exchange_config": with_default_endpoints(exchange, section)}

    @model_validator(mode="after")
    def _program(self) -> InstanceFile:
        d = self.daemon_config
        if self.is_grid_bot:
            if self.strategy_config is None:
                raise ValueError(
                    "strategy_config is required when metadata.strategy is "
                    f"{self.metadata.strategy!r}"
                )
            if self.metadata.symbol is None:
                raise ValueError("metadata.symbol is required for the grid bot")
            if self.metadata.exchange not in SUPPORTED_EXCHANGES:
                raise ValueError(
                    f"metadata.exchange {self.metadata.exchange!r} is not supported: the grid "
                    'bot trades on "backpack" or "paper" (the local paper exchange)'
                )
        elif d.command is None and d.script_path is None:
            raise ValueError(
                "no program to run: set daemon_config.command, or daemon_config.script_path, "
                'or metadata.strategy "grid"/"perp_grid"'
            )
        return self


@dataclass(frozen=True)
class InstanceConfig:
    """A resolved instance: everything the keeper needs, nothing it must merge itself."""

    name: str
    path: Path
    metadata: Metadata
    daemon: InstanceDaemon
    exchange: ExchangeConfig | None
    strategy: GridStrategyConfig | None
    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str]
    health: HealthCheck | None
    fingerprint: str
    warnings: tuple[str, ...] = field(default=())
    own_log_dir: Path | None = None  # the seed's per-instance daemon_config.log_dir, resolved
    # The variables the config refers to, as resolved (not those only the reading process's
    # own environment had): the keeper gives them to the program, which reads its config too.
    ref_env: dict[str, str] = field(default_factory=dict)
    # Those that came from a command's environment: kept for the next start (envlayers).
    kept_env: dict[str, str] = field(default_factory=dict)

    @property
    def web_port(self) -> int | None:
        return self.daemon.web_port

    @property
    def is_grid_bot(self) -> bool:
        return self.metadata.strategy in GRID_STRATEGIES

    def log_dir(self, home: Path) -> Path:
        """The instance's log directory: its own `daemon_config.log_dir` when it sets one, else
        `<log_dir>/<name>` (a relative settings log_dir is under the home)."""
        if self.own_log_dir is not None:
            return self.own_log_dir
        base = Path(self.daemon.log_dir).expanduser()
        if not base.is_absolute():
            base = home / base
        return base / self.name


def project_dir(config_path: Path) -> Path:
    """The directory that holds `config/` (relative paths in a config are relative to it)."""
    for parent in config_path.parents:
        if parent.name == "config":
            return parent.parent
    return config_path.parent


def resolve_program(
    daemon: InstanceDaemon, config_path: Path, *, grid_bot: bool
) -> tuple[tuple[str, ...], Path]:
    """The argv and working directory of an instance."""
    root = project_dir(config_path)
    cwd = Path(daemon.working_dir).expanduser() if daemon.working_dir else root
    if not cwd.is_absolute():
        cwd = root / cwd
    if daemon.command is not None:
        subs = {"{python}": sys.executable, "{config_dir}": str(config_path.parent)}
        argv = []
        for item in daemon.command:
            for token, value in subs.items():
                item = item.replace(token, value)
            argv.append(item)
        return tuple(argv), cwd
    if daemon.script_path is not None:
        python = daemon.python_path or sys.executable
        if "/" in python and not Path(python).expanduser().is_absolute():
            python = str(cwd / python)  # the seed's `.venv/bin/python3`, from working_dir
        args = list(daemon.bot_args)
        if grid_bot and not args:
            # A seed grid instance runs `run.py` with no arguments: it runs this file's grid.
            args = ["--config", str(config_path)]
        return (python, daemon.script_path, *args), cwd
    if grid_bot:
        # -P: the cwd is the project directory; `-m` would import a json.py there
        return (sys.executable, "-P", "-m", "gridkeeper", "bot", "--config", str(config_path)), cwd
    raise AssertionError("InstanceFile validation guarantees a program")


def effective_health(daemon: InstanceDaemon) -> HealthCheck | None:
    """The probe: the configured one, else HTTP /health on web_port, else none."""
    probe = daemon.health_check
    if probe is None:
        if daemon.web_port is None:
            return None
        probe = HealthCheck()
    if probe.type == "none":
        return None
    if probe.type == "http" and probe.url is None:
        if daemon.web_port is None:
            return None
        return probe.model_copy(update={"url": f"http://127.0.0.1:{daemon.web_port}/health"})
    if probe.type == "tcp" and probe.port is None:
        return probe.model_copy(update={"port": daemon.web_port}) if daemon.web_port else None
    return probe


def fingerprint(data: Any) -> str:
    """A stable hash of the effective config; `reload` restarts only instances whose hash moved."""
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()
