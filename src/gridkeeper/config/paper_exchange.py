"""Model of `config/paper_exchange.json`: markets, prices and accounts of the paper exchange."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from gridkeeper.config.base import StrictModel


class PaperMarket(StrictModel):
    """One market, with Backpack's filters and this exchange's fees."""

    symbol: str = Field(description="Backpack symbol, e.g. SOL_USDC or SOL_USDC_PERP.")
    base_symbol: str = Field(description="Base asset, e.g. SOL.")
    quote_symbol: str = Field("USDC", description="Quote asset; perps settle in it.")
    market_type: Literal["SPOT", "PERP"] = Field(description="SPOT or PERP (one-way netting).")
    tick_size: Decimal = Field(Decimal("0.01"), gt=0, description="Price increment.")
    step_size: Decimal = Field(Decimal("0.01"), gt=0, description="Quantity increment.")
    min_quantity: Decimal = Field(Decimal("0.01"), gt=0, description="Smallest order quantity.")
    max_quantity: Decimal | None = Field(None, gt=0, description="Largest order quantity.")
    maker_fee_bps: Decimal = Field(Decimal("2"), description="Maker fee in basis points.")
    taker_fee_bps: Decimal = Field(Decimal("5"), ge=0, description="Taker fee in basis points.")
    min_multiplier: Decimal = Field(
        Decimal("0.5"), gt=0, description="Lowest limit price allowed, as a multiple of the last."
    )
    max_multiplier: Decimal = Field(
        Decimal("1.5"), gt=0, description="Highest limit price allowed, as a multiple of the last."
    )
    initial_margin: Decimal = Field(
        Decimal("0.1"), gt=0, le=1, description="Perps: margin per unit of notional (0.1 = 10x)."
    )
    initial_price: Decimal = Field(gt=0, description="Price at first start (later: persisted).")


class PriceSource(StrictModel):
    """Where prices come from. Every source moves each market's price once per interval."""

    kind: Literal["random_walk", "csv", "replay", "live", "manual"] = Field(
        "random_walk",
        description="random_walk (seeded, reproducible), csv (a file, one row per interval), "
        "replay (a recorded file at its own timing, see speed), live (Backpack's public "
        "ticker), manual (only POST /_paper/price moves it).",
    )
    interval_s: float = Field(1.0, gt=0, le=3600, description="Seconds between price updates.")
    seed: int = Field(42, description="random_walk: the seed; the same seed gives the same path.")
    volatility: float = Field(
        0.0005, ge=0, le=0.2, description="random_walk: standard deviation of one step's return."
    )
    csv_path: str | None = Field(
        None,
        description="csv: file with a header; a column per symbol, or one `price` column for all.",
    )
    loop: bool = Field(True, description="csv, replay: start again at the end of the file.")
    speed: float = Field(
        1.0,
        gt=0,
        le=1_000_000,
        description="replay: how many times faster than recorded the file plays (2 = twice).",
    )
    live_url: str = Field(
        "https://api.backpack.exchange", description="live: base URL whose /api/v1/ticker is read."
    )

    @model_validator(mode="after")
    def _csv_needs_path(self) -> PriceSource:
        if self.kind in ("csv", "replay") and not self.csv_path:
            raise ValueError(f"price_source.kind '{self.kind}' needs csv_path")
        return self


class PerpSettings(StrictModel):
    """Perpetuals: mark price, funding and liquidation (all off or neutral by default)."""

    mark_basis_bps: Decimal = Field(
        Decimal(0),
        ge=-1000,
        le=1000,
        description="Mark = last price x (1 + basis): a steady premium (+) or discount (-).",
    )
    mark_smoothing: Decimal = Field(
        Decimal(1),
        gt=0,
        le=1,
        description="Weight of a new price in the mark (exponential average): 1 = mark follows "
        "the last price at once, 0.2 = a spike moves the mark a fifth of the way.",
    )
    funding: bool = Field(False, description="Pay funding on open positions every interval.")
    funding_interval_s: int = Field(
        28800, gt=0, description="Seconds between funding payments (Backpack: 8 h = 28800)."
    )
    funding_rate_model: Literal["fixed", "premium"] = Field(
        "fixed",
        description="fixed: funding_rate every interval; premium: (mark - last) / last at the "
        "payment, clamped to +/- funding_rate_cap.",
    )
    funding_rate: Decimal = Field(
        Decimal("0.0001"),
        ge=-1,
        le=1,
        description="fixed: rate per interval; longs pay shorts when positive (0.0001 = 1 bp).",
    )
    funding_rate_cap: Decimal = Field(
        Decimal("0.01"), gt=0, le=1, description="premium: largest rate either way."
    )
    liquidation: bool = Field(
        False,
        description="Close an account's positions at market when its equity at mark falls below "
        "its maintenance margin.",
    )
    maintenance_margin: Decimal | None = Field(
        None,
        gt=0,
        le=1,
        description="Maintenance margin fraction of notional; default: half the market's "
        "initial_margin.",
    )
    maintenance_margin_by_symbol: dict[str, Decimal] = Field(
        default_factory=dict,
        description='Per-market maintenance fraction, e.g. {"SOL_USDC_PERP": "0.02"}.',
    )


class PaperAccount(StrictModel):
    """An API key pair with starting balances (applied once, when the account is first seen)."""

    name: str = Field(
        description="Label; an account without keys stores them in "
        "<home>/paper/<name>-account.json."
    )
    api_key: str | None = Field(
        None, description="Base64 public key. Derived from api_secret when absent."
    )
    api_secret: SecretStr | None = Field(
        None,
        description="Base64 seed; empty or absent: generated at first start into the home.",
    )
    balances: dict[str, Decimal] = Field(
        default_factory=dict, description='Starting balances by asset, e.g. {"USDC": "10000"}.'
    )


class LiquidityConfig(StrictModel):
    """A synthetic order book around the last price (off: unlimited size at the last price)."""

    enabled: bool = Field(False, description="Model a book with a spread and finite depth.")
    half_spread_ticks: int = Field(
        1, ge=1, le=10_000, description="Best bid/ask are at least this many ticks from the last."
    )
    half_spread_bps: Decimal = Field(
        Decimal(0), ge=0, le=1000, description="...or this far in bps, whichever is wider."
    )
    levels: int = Field(20, ge=1, le=1000, description="Price levels per side.")
    level_ticks: int = Field(1, ge=1, le=10_000, description="Ticks between two levels.")
    depth_per_level: Decimal = Field(
        Decimal(10), gt=0, description="Base quantity offered at each level."
    )
    trade_volume_per_level: Decimal | None = Field(
        None,
        gt=0,
        description="Resting orders: base quantity that fills per traded-through price level per "
        "price update (FIFO); null = unlimited (a resting order fills in full).",
    )


class RateLimitConfig(StrictModel):
    """Requests per API key (or client address without one) in a sliding window."""

    enabled: bool = Field(False, description="Answer 429 with Retry-After over the budget.")
    requests: int = Field(2000, ge=1, description="Requests allowed per window and key.")
    window_s: float = Field(60.0, gt=0, le=86_400, description="Window length in seconds.")


class UnkindConfig(StrictModel):
    """Behaviours of the real market that make life harder; every one is off by default."""

    liquidity: LiquidityConfig = Field(default_factory=LiquidityConfig)
    cancel_delay_ms: int = Field(
        0,
        ge=0,
        le=60_000,
        description="> 0: DELETE /api/v1/order answers 202 (no body) and the order stays open "
        "and fillable this long before it is cancelled.",
    )
    history_delay_ms: int = Field(
        0,
        ge=0,
        le=600_000,
        description="> 0: an order or fill shows in /wapi/v1/history/* only once its last change "
        "is this old (the websocket and open orders see it at once).",
    )
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    self_trade_prevention: bool = Field(
        False,
        description="An order that would trade against the same account's resting order applies "
        "its selfTradePrevention mode (RejectTaker, RejectMaker, RejectBoth).",
    )
    reduce_only_modify: bool = Field(
        False,
        description="A resting reduce-only order larger than its position is shrunk to it "
        "(orderModified) or expired when the position is gone (ReduceOnlyNotReduced).",
    )


# What `profile: "realistic"` sets; keys given explicitly in `unkind` still win.
REALISTIC: dict[str, Any] = {
    "liquidity": {
        "enabled": True,
        "half_spread_ticks": 1,
        "half_spread_bps": "1",
        "levels": 20,
        "level_ticks": 1,
        "depth_per_level": "10",
        "trade_volume_per_level": "5",
    },
    "cancel_delay_ms": 150,
    "history_delay_ms": 500,
    "rate_limit": {"enabled": True, "requests": 2000, "window_s": 60},
    "self_trade_prevention": True,
    "reduce_only_modify": True,
}


# What the realistic profile turns on for perps (each key still overridable in `perps`).
REALISTIC_PERPS: dict[str, Any] = {
    "mark_basis_bps": "2",
    "mark_smoothing": "0.5",
    "funding": True,
    "liquidation": True,
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class PaperExchangeConfig(StrictModel):
    """The whole `config/paper_exchange.json`."""

    markets: list[PaperMarket] = Field(min_length=1, description="Markets served.")
    price_source: PriceSource = Field(default_factory=PriceSource, description="How prices move.")
    market_slippage_bps: Decimal = Field(
        Decimal("5"), ge=0, description="Market orders fill this far past the current price."
    )
    accounts: list[PaperAccount] = Field(min_length=1, description="API accounts.")
    ws_ping_interval_s: float = Field(
        60.0, gt=0, description="Seconds between websocket pings (Backpack: 60)."
    )
    profile: Literal["kind", "realistic"] = Field(
        "kind",
        description="kind: every unkind behaviour off unless set in `unkind`; realistic: all on "
        "with the values of REALISTIC, each still overridable in `unkind`.",
    )
    unkind: UnkindConfig = Field(
        default_factory=UnkindConfig, description="The real market's unkind behaviours."
    )
    perps: PerpSettings = Field(
        default_factory=PerpSettings, description="Perpetuals: mark, funding, liquidation."
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_profile(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("profile") == "realistic":
            given = data.get("unkind")
            if isinstance(given, UnkindConfig):
                given = given.model_dump(exclude_unset=True)
            perps = data.get("perps")
            if isinstance(perps, PerpSettings):
                perps = perps.model_dump(exclude_unset=True)
            data = {
                **data,
                "unkind": _merge(REALISTIC, given or {}),
                "perps": _merge(REALISTIC_PERPS, perps or {}),
            }
        return data

    @model_validator(mode="after")
    def _unique(self) -> PaperExchangeConfig:
        symbols = [m.symbol for m in self.markets]
        if len(set(symbols)) != len(symbols):
            raise ValueError("markets: duplicate symbol")
        names = [a.name for a in self.accounts]
        if len(set(names)) != len(names):
            raise ValueError("accounts: duplicate name")
        return self
