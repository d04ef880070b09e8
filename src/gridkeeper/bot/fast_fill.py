"""The fill -> replacement hot path: a fill the websocket reports is applied from the message.

The order stream's `orderFill` carries everything a fill read over REST gives (trade id, price,
quantity, fee, time), so the replacement order need not wait for the ticker, fills and depth
reads of a full cycle. What still comes first, always: the fill and the replacement's intent
are written to the store in one transaction *before* the order POST (intent-before-send).
What waits until after the POST: the mark price read (perps) and passing events on.

A fill the message cannot describe exactly (no trade id or no fee: the REST read's key would
differ, and a fill must be applied once) is left to the normal cycle, which reads fills over
REST. The full reconcile still reads every fill since the checkpoint, so a message the stream
lost is applied there (`need_reconcile` after a reconnect makes that immediate).
"""

from __future__ import annotations

import asyncio
import time

from gridkeeper.bot.exchange_reads import ExchangeReads
from gridkeeper.bot.execution import now_ms
from gridkeeper.bot.reconcile import apply_fills, fill_order
from gridkeeper.exchange.models import Fill, OrderUpdate


def fill_of(update: OrderUpdate) -> Fill | None:
    """The fill an `orderFill` message reports, or None when it cannot be keyed as REST keys it."""
    if (
        update.event != "orderFill"
        or not update.trade_id
        or update.last_fill_quantity is None
        or update.last_fill_price is None
        or update.fee is None
        or update.is_maker is None
    ):
        return None
    return Fill(
        trade_id=update.trade_id,
        order_id=update.order_id,
        client_id=update.client_id,
        symbol=update.symbol,
        side=update.side,
        price=update.last_fill_price,
        quantity=update.last_fill_quantity,
        fee=update.fee,
        fee_symbol=update.fee_symbol or "",
        is_maker=update.is_maker,
        timestamp_ms=update.timestamp_us // 1000,
    )


class FastFills(ExchangeReads):
    """Streamed fills, applied at once under the runner's lock."""

    def _take_update(self, update: object) -> None:
        """Queue a streamed fill for the hot path; anything else (or a fill the message cannot
        key) asks the next cycle to read fills over REST."""
        fill = fill_of(update) if isinstance(update, OrderUpdate) else None
        if fill is not None and fill.symbol == self.spec.symbol:
            self.stream_fills.append(fill)
        else:
            self.fills_due = True
        self.wake.set()

    def _stream_live(self) -> bool:
        """The order stream is connected and subscribed: fills reach us without asking."""
        stream = self.order_stream
        subscribed = getattr(stream, "subscribed", None)
        return isinstance(subscribed, asyncio.Event) and subscribed.is_set()

    async def _fill_cycle(self) -> bool:
        """Apply the queued streamed fills and send what they imply; False when none applied
        (duplicates of fills already read), so the caller runs its normal cycle instead."""
        strategy = self.strategy
        fills, self.stream_fills = self.stream_fills, []
        if not fills:
            return False
        applied = apply_fills(strategy, fills, self.store.issued, self._seen(fills))
        if not applied:
            return False
        # The fills and the state they make are saved with the replacement's intent, in the
        # executor's save before the POST: one commit (one fsync) ahead of the order.
        self.unsaved_fills += applied
        # The streamed price and book when live (the same figures the poll would use), else
        # the newest fill's price, a real trade, standing in for both.
        streamed = self.market.price() if self.market is not None else None
        price = streamed if streamed is not None else max(applied, key=fill_order).price
        if strategy.decision_due(price):
            # A boundary action or a limit fires at this price: on every fill there is, not
            # on the one this message carried (the others may be a message behind).
            await self._catch_up_fills()
        top = self.market.top() if self.market is not None else None
        bid, ask = top if top is not None else (None, None)
        actions = strategy.on_price(price, now_ms(), bid=bid, ask=ask)
        await self.executor.run(actions)
        await self._send_close()  # the next part of a close (reads the exchange first)
        if self.unsaved_fills:
            self._save([])  # nothing was sent: the fills are still saved
        # Bookkeeping that can wait for the order: the mark (perps), the invariant, events.
        await self._refresh_mark(full=False)  # the streamed mark, when the stream holds one
        await self.executor.run(strategy.check_exits(now_ms()))
        self.last_loop_at = time.time()
        self._flush_events()
        return True
