"""Perpetuals' unkind parts, as pure functions over the engine: mark price, funding, liquidation.

No I/O and no clock: `perp_service.py` calls these at the right moments and commits the engine's
changes, funding ledger rows included (they travel in `Changes`, so balances and ledger are one
transaction).

- Mark: `last x (1 + basis)`, smoothed by an exponential average (weight `mark_smoothing`), so the
  mark can sit away from the last trade as Backpack's does (it follows an index, not the tape).
- Funding: at each interval end every open position receives `-net x mark x rate` in the quote
  asset (longs pay when the rate is positive).
- Liquidation: an account whose equity at mark is below its maintenance margin
  (`sum of |net| x mark x mmf`) has its perp orders cancelled and its positions closed by
  reduce-only market orders with `systemOrderType` `LiquidatePositionOnBook` (stream origin
  `LIQUIDATION_AUTOCLOSE`).
"""

from __future__ import annotations

from decimal import Decimal

from gridkeeper.config.paper_exchange import PerpSettings
from gridkeeper.exchange.paper.book import (
    ZERO,
    EngineReject,
    FundingPayment,
    FundingRate,
    MarketSpec,
    OrderInput,
    fee_of,
)
from gridkeeper.exchange.paper.engine import Engine

BPS = Decimal(10000)
LIQUIDATION = "LiquidatePositionOnBook"
MARK_DIGITS = Decimal("0.01")  # the mark keeps 1/100 of a tick, so smoothing never stalls


def next_mark(
    settings: PerpSettings, spec: MarketSpec, last: Decimal, previous: Decimal | None
) -> Decimal:
    """The mark after a new last price: the basis target, approached by the smoothing weight."""
    target = last * (1 + settings.mark_basis_bps / BPS)
    mark = target if previous is None else previous + settings.mark_smoothing * (target - previous)
    return mark.quantize(spec.tick_size * MARK_DIGITS)


def update_mark(engine: Engine, settings: PerpSettings, symbol: str) -> Decimal | None:
    """Recompute one perp's mark from its last price; None for spot markets (mark = last)."""
    spec = engine.markets[symbol]
    last = engine.prices.get(symbol)
    if not spec.is_perp or last is None:
        return None
    mark = next_mark(settings, spec, last, engine.marks.get(symbol))
    engine.marks[symbol] = mark
    return mark


def funding_rate(settings: PerpSettings, engine: Engine, symbol: str) -> Decimal:
    """The rate of the current interval: fixed, or the mark's premium over the last price."""
    if settings.funding_rate_model == "fixed":
        return settings.funding_rate
    last = engine.price(symbol)
    premium = (engine.mark_price(symbol) - last) / last
    cap = settings.funding_rate_cap
    return max(-cap, min(cap, premium)).quantize(Decimal("0.00000001"))


def interval_end_ms(now_ms: int, interval_s: int) -> int:
    """The end of the funding interval `now_ms` lies in (intervals align to the epoch)."""
    width = interval_s * 1000
    return (now_ms // width + 1) * width


def pay_funding(
    engine: Engine, settings: PerpSettings, end_ms: int
) -> tuple[list[FundingRate], list[FundingPayment]]:
    """Settle one interval for every perp with a price: credit or debit each open position."""
    rates: list[FundingRate] = []
    payments: list[FundingPayment] = []
    for symbol, spec in engine.markets.items():
        if not spec.is_perp or symbol not in engine.prices:
            continue
        rate = funding_rate(settings, engine, symbol)
        rates.append(FundingRate(symbol, end_ms, rate))
        mark = engine.mark_price(symbol)
        for (account, held), pos in sorted(engine.positions.items()):
            if held != symbol or pos.net_quantity == ZERO:
                continue
            amount = -fee_of(pos.net_quantity * mark, rate)
            engine.credit(account, spec.quote, amount)
            pos.cumulative_funding += amount
            payments.append(FundingPayment(account, symbol, end_ms, amount, rate))
    # The ledger rows go with the balance changes they explain: one commit persists both.
    engine.record_funding(rates, payments)
    return rates, payments


def maintenance_fraction(settings: PerpSettings, spec: MarketSpec) -> Decimal:
    fraction = settings.maintenance_margin_by_symbol.get(spec.symbol, settings.maintenance_margin)
    return fraction if fraction is not None else spec.initial_margin / 2


def maintenance_margin(engine: Engine, settings: PerpSettings, account: str) -> Decimal:
    """What the account must keep: every position's notional at mark x its maintenance fraction."""
    return sum(
        (
            abs(pos.net_quantity)
            * engine.mark_price(symbol, pos.entry_price)
            * maintenance_fraction(settings, engine.markets[symbol])
            for symbol, pos in engine.account_positions(account)
        ),
        ZERO,
    )


def underwater(engine: Engine, settings: PerpSettings) -> list[str]:
    """Accounts with a perp position whose equity at mark is below maintenance."""
    accounts = sorted(
        {acct for (acct, _), pos in engine.positions.items() if pos.net_quantity != ZERO}
    )
    return [a for a in accounts if engine.equity(a) < maintenance_margin(engine, settings, a)]


def liquidate(engine: Engine, account: str, now_ms: int) -> list[str]:
    """Cancel the account's perp orders and close its positions at market. Returns order ids."""
    for symbol in sorted({o.symbol for o in engine.open_orders(account)}):
        if engine.markets[symbol].is_perp:
            engine.cancel_all(account, symbol, now_ms)
    placed: list[str] = []
    for symbol, pos in engine.account_positions(account):
        spec = engine.markets[symbol]
        side = "Ask" if pos.net_quantity > ZERO else "Bid"
        remaining = abs(pos.net_quantity)
        while remaining > ZERO:
            chunk = min(remaining, spec.max_quantity or remaining)
            req = OrderInput(symbol, side, "Market", chunk, reduce_only=True)
            try:
                order = engine.place(account, req, now_ms, system_order_type=LIQUIDATION)
            except EngineReject:
                break  # no price yet, or a filter the close cannot meet: retried next update
            placed.append(order.id)
            remaining -= order.executed_quantity
            if order.executed_quantity == ZERO:
                break  # nothing filled (an empty book): try again on the next price
    return placed


def open_interest(engine: Engine, symbol: str) -> Decimal:
    """Open interest in base units: every account's |position| (the other side of each paper
    position is the synthetic market, not another account, so nothing is counted twice)."""
    return sum(
        (abs(pos.net_quantity) for (_, held), pos in engine.positions.items() if held == symbol),
        ZERO,
    )
