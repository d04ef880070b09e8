"""Order calls of the Backpack REST client: place, cancel, and find orders and fills.

Apart from the transport and the market/account reads (client.py) because these carry the
client's money-safety rules: an order POST is never retried (a timeout is an
UnknownOutcomeError, and `find_order` is how the caller learns what happened), and a cancel
answered 202 is only done once the order is seen closed (`_confirm_cancel`).
`BackpackClient` (client.py) is the one class to use; this mixin needs its `_call`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from gridkeeper.exchange.errors import ExchangeError, RejectedError, RetryableError
from gridkeeper.exchange.models import Fill, FundingPayment, Order, OrderRequest


class OrderCalls:
    """The order endpoints of `BackpackClient`."""

    # The client's signed, retrying request (BackpackClient._call).
    _call: Callable[..., Awaitable[Any]]

    async def execute_order(self, req: OrderRequest) -> Order:
        """Place one order. Never retried: see UnknownOutcomeError."""
        data = await self._call(
            "POST", "/api/v1/order", instruction="orderExecute", body=req.to_api(), kind="order"
        )
        return Order.from_api(data)

    async def execute_orders(self, reqs: list[OrderRequest]) -> list[Order | ExchangeError]:
        """Place a batch; each result is the order or the error that refused it."""
        data = await self._call(
            "POST",
            "/api/v1/orders",
            instruction="orderExecute",
            body=[r.to_api() for r in reqs],
            kind="order",
        )
        results: list[Order | ExchangeError] = []
        for item in data:
            if item.get("operation") == "Err":
                results.append(
                    RejectedError(str(item.get("code")), str(item.get("message", "")), 400)
                )
            else:
                results.append(Order.from_api(item))
        return results

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_id: int | None = None
    ) -> Order:
        body = _target(symbol, order_id, client_id)
        data = await self._call(
            "DELETE", "/api/v1/order", instruction="orderCancel", body=body, kind="cancel"
        )
        if data is None:
            # 202 with no body: Backpack queued the cancel. Only a closed order is an answer.
            return await self._confirm_cancel(symbol, order_id, client_id)
        return Order.from_api(data)

    async def _confirm_cancel(
        self, symbol: str, order_id: str | None, client_id: int | None
    ) -> Order:
        if await self.get_open_order(symbol, order_id=order_id, client_id=client_id) is None:
            history = await self.get_order_history(symbol, order_id=order_id, limit=200)
            for item in history:
                if (order_id is not None and item.id == order_id) or (
                    client_id is not None and item.client_id == client_id
                ):
                    return item
        raise RetryableError("CANCEL_PENDING", "the cancel was accepted (202) but is not done yet")

    async def cancel_all(self, symbol: str) -> list[Order]:
        data = await self._call(
            "DELETE",
            "/api/v1/orders",
            instruction="orderCancelAll",
            body={"symbol": symbol},
            kind="cancel",
        )
        return [Order.from_api(item) for item in data or []]

    async def get_open_order(
        self, symbol: str, *, order_id: str | None = None, client_id: int | None = None
    ) -> Order | None:
        """The order if it rests on the book; None when it is not open (filled, cancelled...)."""
        try:
            data = await self._call(
                "GET",
                "/api/v1/order",
                instruction="orderQuery",
                params=_target(symbol, order_id, client_id),
            )
        except RejectedError as exc:
            if exc.status == 404:
                return None
            raise
        return Order.from_api(data)

    async def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        data = await self._call(
            "GET", "/api/v1/orders", instruction="orderQueryAll", params={"symbol": symbol}
        )
        return [Order.from_api(item) for item in data]

    async def get_order_history(
        self,
        symbol: str | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
        order_id: str | None = None,
    ) -> list[Order]:
        params = {"symbol": symbol, "limit": limit, "offset": offset, "orderId": order_id}
        data = await self._call(
            "GET", "/wapi/v1/history/orders", instruction="orderHistoryQueryAll", params=params
        )
        return [Order.from_api(item) for item in data]

    async def get_fills(
        self,
        symbol: str | None = None,
        *,
        from_ms: int | None = None,
        to_ms: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Fill]:
        params = {"symbol": symbol, "from": from_ms, "to": to_ms, "limit": limit, "offset": offset}
        data = await self._call(
            "GET", "/wapi/v1/history/fills", instruction="fillHistoryQueryAll", params=params
        )
        return [Fill.from_api(item) for item in data]

    async def get_funding_payments(
        self,
        symbol: str | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
    ) -> list[FundingPayment]:
        """Funding paid or received on perp positions, newest first (404 → `[]`: none)."""
        params = {"symbol": symbol, "limit": limit, "offset": offset, "sortDirection": "Desc"}
        try:
            data = await self._call(
                "GET",
                "/wapi/v1/history/funding",
                instruction="fundingHistoryQueryAll",
                params=params,
            )
        except RejectedError as exc:
            if exc.status == 404:
                return []
            raise
        payments = [FundingPayment.from_api(item) for item in data or []]
        return sorted(payments, key=lambda p: p.interval_end_ms, reverse=True)

    async def find_order(
        self, symbol: str, *, client_id: int, history_depth: int = 1000
    ) -> Order | None:
        """After an UnknownOutcomeError: the order with this clientId, open or recently closed."""
        found = await self.get_open_order(symbol, client_id=client_id)
        if found is not None:
            return found
        offset = 0
        while offset < history_depth:
            page = await self.get_order_history(symbol, limit=100, offset=offset)
            for order in page:
                if order.client_id == client_id:
                    return order
            if len(page) < 100:
                return None
            offset += 100
        return None


def _target(symbol: str, order_id: str | None, client_id: int | None) -> dict[str, object]:
    if (order_id is None) == (client_id is None):
        raise ValueError("give exactly one of order_id and client_id")
    body: dict[str, object] = {"symbol": symbol}
    if order_id is not None:
        body["orderId"] = order_id
    else:
        body["clientId"] = client_id
    return body
