"""Public trades and the public websocket streams, fed by price changes and account fills.

The paper market's trades are (a) the price source's prints: every price change is a trade at
the new price, of the market's minimum quantity since the source carries no volume, and (b) the
accounts' own fills, at their price and quantity. Both feed `GET /api/v1/trades`, the ticker's
and klines' volumes, and the `trade.<symbol>` stream.

Hooks: `PriceHistory.listeners` (every price point the service adds) and `Hub.listeners`
(every order update the service publishes), so the service needs no change to feed this module.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from gridkeeper.exchange.paper import perp
from gridkeeper.exchange.paper.book import ZERO, MarketSpec, PositionState
from gridkeeper.exchange.paper.marketdata import (
    DEPTH_LEVELS,
    INTERVALS_S,
    PublicTrade,
    levels_json,
    synthetic_book,
    ticker_json,
)
from gridkeeper.exchange.paper.serialize import d, naive_utc, position_update_json
from gridkeeper.exchange.paper.service import PaperExchange

TRADES_KEPT = 10_000  # per symbol, in memory: what `/trades` and `/trades/history` can page


class PublicFeed:
    def __init__(self, ex: PaperExchange) -> None:
        self.ex = ex
        self.trades: dict[str, deque[PublicTrade]] = {
            s: deque(maxlen=TRADES_KEPT) for s in ex.engine.markets
        }
        self.update_ids: dict[str, int] = dict.fromkeys(ex.engine.markets, 0)
        self._previous: dict[str, Decimal] = {}
        self._trade_ids = itertools.count(1)
        for symbol, series in ex.history.points.items():
            if series:
                self._previous[symbol] = series[-1][1]
        ex.history.listeners.append(self.on_price)
        ex.hub.listeners.append(self.on_order_update)

    # -- inputs ----------------------------------------------------------------------------

    def on_price(self, symbol: str, ts_ms: int, price: Decimal) -> None:
        spec = self.ex.engine.markets.get(symbol)
        if spec is None:
            return
        previous = self._previous.get(symbol, price)
        self._previous[symbol] = price
        self.update_ids[symbol] = self.update_ids.get(symbol, 0) + 1
        self._record(
            PublicTrade(
                id=next(self._trade_ids),
                symbol=symbol,
                price=price,
                quantity=spec.min_quantity,
                timestamp_ms=ts_ms,
                is_buyer_maker=price < previous,  # a falling print: a seller hit the bid
            )
        )
        if self.ex.hub.subscribers:
            self._publish_market(spec, previous, price, ts_ms)

    def on_order_update(self, account: str, symbol: str, data: dict[str, Any]) -> None:
        if data.get("e") != "orderFill":
            return
        is_bid = data.get("S") == "Bid"
        is_maker = bool(data.get("m"))
        ts_ms = int(data["T"]) // 1000
        self._record(
            PublicTrade(
                id=next(self._trade_ids),
                symbol=symbol,
                price=Decimal(str(data["L"])),
                quantity=Decimal(str(data["l"])),
                timestamp_ms=ts_ms,
                is_buyer_maker=is_bid == is_maker,
                buyer_order_id=str(data["i"]) if is_bid else None,
                seller_order_id=None if is_bid else str(data["i"]),
            )
        )
        spec = self.ex.engine.markets.get(symbol)
        if spec is not None and spec.is_perp:
            self._publish_position(account, spec, Decimal(str(data["l"])), is_bid, ts_ms)

    # -- queries ---------------------------------------------------------------------------

    def recent(self, symbol: str) -> list[PublicTrade]:
        return list(self.trades.get(symbol, ()))

    # -- internals -------------------------------------------------------------------------

    def _record(self, trade: PublicTrade) -> None:
        self.trades.setdefault(trade.symbol, deque(maxlen=TRADES_KEPT)).append(trade)
        hub = self.ex.hub
        stream = f"trade.{trade.symbol}"
        if hub.subscribers and hub.wants(stream):
            ts_us = trade.timestamp_ms * 1000
            data: dict[str, Any] = {
                "e": "trade",
                "E": ts_us,
                "s": trade.symbol,
                "p": d(trade.price),
                "q": d(trade.quantity),
                "t": trade.id,
                "T": ts_us,
                "m": trade.is_buyer_maker,
            }
            if trade.buyer_order_id is not None:
                data["b"] = trade.buyer_order_id
            if trade.seller_order_id is not None:
                data["a"] = trade.seller_order_id
            hub.publish_public(stream, data)

    def _publish_market(
        self, spec: MarketSpec, previous: Decimal, price: Decimal, ts_ms: int
    ) -> None:
        hub, symbol, ts_us = self.ex.hub, spec.symbol, ts_ms * 1000
        update_id = self.update_ids[symbol]
        if hub.wants(f"bookTicker.{symbol}") or hub.wants(f"depth.{symbol}"):
            model = self.ex.engine.liquidity
            bids, asks = synthetic_book(
                spec, price, DEPTH_LEVELS, model, self.ex.engine.taken(symbol)
            )
            if hub.wants(f"bookTicker.{symbol}"):
                ticker: dict[str, Any] = {"e": "bookTicker", "E": ts_us, "s": symbol}
                if asks:
                    ticker.update({"a": d(asks[0][0]), "A": d(asks[0][1])})
                if bids:
                    ticker.update({"b": d(bids[0][0]), "B": d(bids[0][1])})
                ticker.update({"u": str(update_id), "T": ts_us})
                hub.publish_public(f"bookTicker.{symbol}", ticker)
            if hub.wants(f"depth.{symbol}"):
                old_bids, old_asks = synthetic_book(spec, previous, DEPTH_LEVELS, model)
                hub.publish_public(
                    f"depth.{symbol}",
                    {
                        "e": "depth",
                        "E": ts_us,
                        "s": symbol,
                        "a": levels_json(_diff(old_asks, asks)),
                        "b": levels_json(_diff(old_bids, bids)),
                        "U": update_id,
                        "u": update_id,
                        "T": ts_us,
                    },
                )
        if hub.wants(f"ticker.{symbol}"):
            t = ticker_json(symbol, price, self.ex.history, ts_ms, trades=self.recent(symbol))
            hub.publish_public(
                f"ticker.{symbol}",
                {
                    "e": "ticker",
                    "E": ts_us,
                    "s": symbol,
                    "o": t["firstPrice"],
                    "c": t["lastPrice"],
                    "h": t["high"],
                    "l": t["low"],
                    "v": t["volume"],
                    "V": t["quoteVolume"],
                    "n": int(t["trades"]),
                },
            )
        if hub.wants(f"markPrice.{symbol}"):
            mark: dict[str, Any] = {
                "e": "markPrice",
                "E": ts_us,
                "s": symbol,
                "p": d(self.ex.mark_price(symbol)),
                "i": d(price),
                "T": ts_us,
            }
            if spec.is_perp:
                rate = perp.funding_rate(self.ex.config.perps, self.ex.engine, symbol)
                mark.update({"f": d(rate), "n": self.ex.perps.next_funding_ms()})
            hub.publish_public(f"markPrice.{symbol}", mark)
        for interval, width in INTERVALS_S.items():
            stream = f"kline.{interval}.{symbol}"
            if hub.wants(stream):
                hub.publish_public(stream, self._kline(spec, interval, width, ts_ms))

    def _kline(self, spec: MarketSpec, interval: str, width_s: int, ts_ms: int) -> dict[str, Any]:
        start_s = ts_ms // 1000 // width_s * width_s
        points = [p for _, p in self.ex.history.between(spec.symbol, start_s * 1000, ts_ms)]
        trades = [t for t in self.recent(spec.symbol) if t.timestamp_ms >= start_s * 1000]
        return {
            "e": "kline",
            "E": ts_ms * 1000,
            "s": spec.symbol,
            "t": naive_utc(start_s * 1000)[:19],
            "T": naive_utc((start_s + width_s) * 1000)[:19],
            "o": d(points[0]),
            "c": d(points[-1]),
            "h": d(max(points)),
            "l": d(min(points)),
            "v": d(sum((t.quantity for t in trades), ZERO)),
            "n": len(trades),
            "X": False,
        }

    def _publish_position(
        self, account: str, spec: MarketSpec, fill_qty: Decimal, is_bid: bool, ts_ms: int
    ) -> None:
        hub = self.ex.hub
        if not hub.wants_private(account, "account.positionUpdate", spec.symbol):
            return
        engine = self.ex.engine
        pos = engine.positions.get((account, spec.symbol), PositionState())
        net = pos.net_quantity
        if net == ZERO:
            event = "positionClosed"
        elif abs(net) == fill_qty and (net > ZERO) == is_bid:
            event = "positionOpened"
        else:
            event = "positionAdjusted"
        position_id = position_id_of(engine.markets, spec.symbol)
        mark = engine.prices.get(spec.symbol, pos.entry_price)
        data = position_update_json(spec, pos, mark, position_id, event, ts_ms * 1000)
        hub.publish_private(account, "account.positionUpdate", spec.symbol, data)


def position_id_of(markets: Iterable[str], symbol: str) -> int:
    """A position's id: stable per market (one-way positions, one per market and account)."""
    return sorted(markets).index(symbol) + 1


def _diff(
    old: list[tuple[Decimal, Decimal]], new: list[tuple[Decimal, Decimal]]
) -> list[tuple[Decimal, Decimal]]:
    """Levels that changed between two books, a removed level as quantity 0, by price."""
    before, after = dict(old), dict(new)
    changed = [(p, q) for p, q in after.items() if before.get(p) != q]
    changed += [(p, ZERO) for p in before if p not in after]
    return sorted(changed)
