"""The grid's strategy config as the bot reads it: plain attributes, no pydantic.

The config package's `GridStrategyConfig` (pydantic) defines and validates every key. A running
bot never imports it: pydantic and building its models cost ~13 MiB of a bot's ~53 MiB (issue
14, docs/footprint.md). The bot process gets the validated section as JSON from a short-lived
resolver (`python -m gridkeeper.config.bot_wire`) and keeps it as a frozen `GridParams`.

Bot code types a config as `StrategyConfig` (read-only attributes), which both `GridParams` and
the pydantic model satisfy: the backtester and the tests keep handing the model in.
`tests/unit/bot/test_params.py` keeps the field names, types and MAX_GRID_NUM equal to the
model's.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol, get_args

from gridkeeper.errors import ConfigError

# config.strategy's names and limits, spelled out here (importing that module imports pydantic).
MAX_GRID_NUM = 1000

GridMode = Literal["arithmetic", "geometric"]
GridType = Literal["neutral", "long", "short"]
BoundaryAction = Literal["pause", "stop_only", "emergency_close", "adjust_range"]
LimitAction = Literal["close", "stop_only"]
ThroughMarketClose = Literal["maker", "taker"]


class StrategyConfig(Protocol):
    """What bot code reads of a strategy config (GridParams, or the validated model)."""

    @property
    def grid_upper_price(self) -> Decimal: ...
    @property
    def grid_lower_price(self) -> Decimal: ...
    @property
    def grid_num(self) -> int: ...
    @property
    def grid_mode(self) -> GridMode: ...
    @property
    def grid_type(self) -> GridType: ...
    @property
    def order_quantity(self) -> Decimal | None: ...
    @property
    def max_position(self) -> Decimal | None: ...
    @property
    def stop_loss(self) -> Decimal | None: ...
    @property
    def take_profit(self) -> Decimal | None: ...
    @property
    def stop_loss_action(self) -> LimitAction: ...
    @property
    def take_profit_action(self) -> LimitAction: ...
    @property
    def through_market_close(self) -> ThroughMarketClose: ...
    @property
    def close_max_slippage(self) -> Decimal: ...
    @property
    def boundary_action(self) -> BoundaryAction: ...
    @property
    def enable_boundary_check(self) -> bool: ...
    @property
    def duration_s(self) -> float | None: ...
    @property
    def boundary_tolerance(self) -> Decimal: ...
    @property
    def post_only(self) -> bool: ...
    @property
    def poll_interval_s(self) -> float: ...
    @property
    def reconcile_interval_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class GridParams:
    """A validated `strategy_config` (same keys and types as config.strategy's model; no
    defaults: every value comes resolved from the validator)."""

    grid_upper_price: Decimal
    grid_lower_price: Decimal
    grid_num: int
    grid_mode: GridMode
    grid_type: GridType
    order_quantity: Decimal | None
    max_position: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    stop_loss_action: LimitAction
    take_profit_action: LimitAction
    through_market_close: ThroughMarketClose
    close_max_slippage: Decimal
    boundary_action: BoundaryAction
    enable_boundary_check: bool
    duration_s: float | None
    boundary_tolerance: Decimal
    post_only: bool
    poll_interval_s: float
    reconcile_interval_s: float

    @classmethod
    def of(cls, config: StrategyConfig) -> GridParams:
        """The same values from any config with these attributes (the validated model)."""
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})

    @classmethod
    def from_wire(cls, doc: Any) -> GridParams:
        """From the resolver's JSON (the validated model in JSON mode: money as strings).
        Only shapes are checked here, the resolver checked meanings; a key missing or extra
        means resolver and bot disagree on the version (ConfigError, never a silent default)."""
        if not isinstance(doc, dict):
            raise ConfigError("strategy_config: the resolver sent no object")
        names = {f.name for f in fields(cls)}
        if set(doc) != names:
            odd = sorted(set(doc) ^ names)
            raise ConfigError(f"strategy_config: resolver and bot disagree on keys {odd}")
        values: dict[str, Any] = {}
        for name in names:
            try:
                values[name] = _convert(name, _KINDS[name], doc[name])
            except (InvalidOperation, TypeError, ValueError) as exc:
                raise ConfigError(f"strategy_config.{name}: {doc[name]!r}: {exc}") from None
        return cls(**values)


# What each field is on the wire: a Decimal (as a string), an int, a float, a bool, or one of a
# Literal's words; None allowed where the model allows it.
_LITERALS = {
    "grid_mode": GridMode,
    "grid_type": GridType,
    "stop_loss_action": LimitAction,
    "take_profit_action": LimitAction,
    "through_market_close": ThroughMarketClose,
    "boundary_action": BoundaryAction,
}
_OPTIONAL = {"order_quantity", "max_position", "stop_loss", "take_profit", "duration_s"}
_KINDS: dict[str, Any] = {
    "grid_upper_price": Decimal,
    "grid_lower_price": Decimal,
    "grid_num": int,
    "order_quantity": Decimal,
    "max_position": Decimal,
    "stop_loss": Decimal,
    "take_profit": Decimal,
    "close_max_slippage": Decimal,
    "enable_boundary_check": bool,
    "duration_s": float,
    "boundary_tolerance": Decimal,
    "post_only": bool,
    "poll_interval_s": float,
    "reconcile_interval_s": float,
    **_LITERALS,
}


def _convert(name: str, kind: Any, value: Any) -> Any:
    if value is None and name in _OPTIONAL:
        return None
    if kind is Decimal:
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise TypeError("not a decimal string")
        number = Decimal(value)
        if not number.is_finite():
            raise ValueError("not a finite number")
        return number
    if kind is bool or kind is int:
        if type(value) is not kind:
            raise TypeError(f"not {kind.__name__}")
        return value
    if kind is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TypeError("not a number")
        return float(value)
    if value not in get_args(kind):
        raise ValueError(f"not one of {list(get_args(kind))}")
    return value


def required_quantity(config: StrategyConfig) -> Decimal:
    """The order quantity of a config the bot runs (the bot derives a missing one first)."""
    if config.order_quantity is None:
        raise ValueError("strategy_config.order_quantity is not set and was not derived")
    return config.order_quantity
