"""Signed account endpoints: account settings, balances, collateral, positions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gridkeeper.exchange.paper import payloads
from gridkeeper.exchange.paper.http import Api, endpoint, error, json
from gridkeeper.exchange.paper.public import position_id_of
from gridkeeper.exchange.paper.serialize import d, money, position_json, ratio

SUBACCOUNT_MAX = 65535


def account_routes(api: Api) -> list[Route]:
    ex, engine = api.ex, api.ex.engine

    async def account(request: Request) -> Response:
        acct, _ = await api.signed(request, "accountQuery")
        summary = ex.account_summary()
        summary["limitOrders"] = len(engine.open_orders(acct))
        return json(summary)

    async def capital(request: Request) -> Response:
        acct, _ = await api.signed(request, "balanceQuery")
        return json(
            {
                asset: {"available": money(b.available), "locked": money(b.locked), "staked": "0"}
                for (owner, asset), b in sorted(engine.balances.items())
                if owner == acct
            }
        )

    async def collateral(request: Request) -> Response:
        acct, params = await api.signed(request, "collateralQuery")
        payloads.uint_param(params, "subaccountId", SUBACCOUNT_MAX)
        return json(collateral_json(api, acct))

    async def position(request: Request) -> Response:
        acct, params = await api.signed(request, "positionQuery")
        symbol = params.get("symbol") or None
        rows = [
            position_json(
                engine.markets[s], p, engine.mark_price(s), position_id_of(engine.markets, s)
            )
            for s, p in engine.account_positions(acct)
            if symbol is None or s == symbol
        ]
        if symbol is not None and not rows:
            return error("RESOURCE_NOT_FOUND", "Position not found", 404)
        return json(rows)

    get = ["GET"]
    return [
        Route("/api/v1/account", endpoint(account), methods=get),
        Route("/api/v1/capital", endpoint(capital), methods=get),
        Route("/api/v1/capital/collateral", endpoint(collateral), methods=get),
        Route("/api/v1/position", endpoint(position), methods=get),
    ]


def collateral_json(api: Api, acct: str) -> dict[str, Any]:
    """A `MarginAccountSummary`: every asset at weight 1, perps' unrealized PnL unsettled;
    `netEquityLocked` is what open orders hold, `netEquityAvailable` the rest."""
    engine = api.ex.engine
    equity = engine.equity(acct)
    positions = engine.account_positions(acct)
    unrealized = sum((p.unrealized(engine.mark_price(s)) for s, p in positions), Decimal(0))
    rows = []
    for (owner, asset), b in sorted(engine.balances.items()):
        if owner != acct:
            continue
        mark = engine.asset_price(asset)
        total = b.available + b.locked
        rows.append(
            {
                "symbol": asset,
                "assetMarkPrice": d(mark),
                "totalQuantity": money(total),
                "balanceNotional": money(total * mark),
                "collateralWeight": "1",
                "collateralValue": money(total * mark),
                "openOrderQuantity": money(b.locked),
                "lendQuantity": "0",
                "availableQuantity": money(b.available),
            }
        )
    exposure = sum((abs(p.net_quantity) * engine.mark_price(s) for s, p in positions), Decimal(0))
    # Equity open orders hold: perp orders' initial margin, spot orders' locked balances.
    spot_locked = sum(
        (
            b.locked * engine.asset_price(asset)
            for (owner, asset), b in engine.balances.items()
            if owner == acct
        ),
        Decimal(0),
    )
    locked = min(engine.order_margin(acct) + spot_locked, max(equity, Decimal(0)))
    out: dict[str, Any] = {
        "assetsValue": money(equity - unrealized),
        "borrowLiability": "0",
        "collateral": rows,
        "imf": "0.1",
        "unsettledEquity": money(unrealized),
        "liabilitiesValue": "0",
        "mmf": "0.05",
        "netEquity": money(equity),
        "netEquityAvailable": money(equity - locked),
        "netEquityLocked": money(locked),
        "netExposureFutures": money(exposure),
        "pnlUnrealized": money(unrealized),
    }
    if exposure:
        out["marginFraction"] = ratio(equity / exposure)
    return out
