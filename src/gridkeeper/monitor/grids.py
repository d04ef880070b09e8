"""Trading metrics per grid, read from each running grid bot's control API once per cycle.

The monitor asks the bot (`GET /api/grid` and `GET /health/detailed`, with the bearer token the
bot wrote to `<home>/tokens/<name>.token`), never its store or internals. All bots are asked at
once with a short timeout, so a hung bot costs the cycle one timeout, however many bots there
are. The answers become samples that the exporter serves until the next cycle: a Prometheus
scrape never reaches a bot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx

from gridkeeper.monitor.samples import Sample, labels

TIMEOUT_S = 2.0
LIVE = frozenset({"running", "starting"})


def token_path(home: Path, name: str) -> Path:
    """Where a grid bot writes its control API's token (the bot's own contract)."""
    return home / "tokens" / f"{name}.token"


def _number(value: Any) -> float | None:
    """A float for the exposition from the bot's decimal string (money stays Decimal in the
    bot; Prometheus values are float64 anyway)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def grid_samples(name: str, view: Mapping[str, Any], detail: Mapping[str, Any]) -> list[Sample]:
    """The samples of one grid from its `/api/grid` and `/health/detailed` answers (pure)."""
    lab = labels(name=name, symbol=str(view.get("symbol") or ""))
    profit = view.get("profit") or {}
    orders = view.get("open_orders") or []
    values: dict[str, Any] = {
        "gridkeeper_grid_trading": 1.0 if view.get("status") == "running" else 0.0,
        "gridkeeper_grid_realized_pnl": profit.get("realized_grid_profit"),
        "gridkeeper_grid_unrealized_pnl": profit.get("unrealized_pnl"),
        "gridkeeper_grid_total_pnl": profit.get("total_pnl"),
        "gridkeeper_grid_position": view.get("position"),
        "gridkeeper_grid_open_orders": sum(
            1 for o in orders if isinstance(o, Mapping) and o.get("status") == "live"
        ),
        "gridkeeper_grid_price": view.get("mark_price") or view.get("last_price"),
        "gridkeeper_grid_range_lower": view.get("grid_lower_price"),
        "gridkeeper_grid_range_upper": view.get("grid_upper_price"),
        "gridkeeper_grid_fills_total": detail.get("fills"),
        "gridkeeper_grid_rejects_total": detail.get("orders_rejected"),
    }
    out = [Sample("gridkeeper_grid_up", 1.0, labels(name=name))]
    for metric, raw in values.items():
        value = _number(raw)
        if value is not None:  # not known yet (no price before the first tick): no series
            out.append(Sample(metric, value, lab))
    return out


def _get(client: httpx.Client, port: int, token: str, path: str) -> dict[str, Any] | None:
    try:
        resp = client.get(
            f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}
        )
        body = resp.json() if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _probe(client: httpx.Client, name: str, port: int, token: str) -> list[Sample]:
    view = _get(client, port, token, "/api/grid")
    if view is None:  # starting, wrong token, hung: the bot is there but says nothing
        return [Sample("gridkeeper_grid_up", 0.0, labels(name=name))]
    detail = _get(client, port, token, "/health/detailed") or {}
    return grid_samples(name, view, detail)


class GridProbe:
    """Asks every live grid bot for its numbers; reuses one HTTP client across cycles."""

    def __init__(self, home: Path, timeout: float = TIMEOUT_S) -> None:
        self.home = home
        self._client = httpx.Client(timeout=timeout, trust_env=False)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="monitor-grid")

    def targets(self, statuses: Sequence[Mapping[str, Any]]) -> list[tuple[str, int, str]]:
        """(name, port, token) of each live instance that is a grid bot: it has a control port
        and wrote a token (other programs the keeper runs do neither)."""
        out = []
        for st in statuses:
            name, port = str(st.get("name", "")), st.get("port")
            if not port or str(st.get("state")) not in LIVE:
                continue
            try:
                token = token_path(self.home, name).read_text().strip()
            except OSError:
                continue
            if token:
                out.append((name, int(port), token))
        return out

    def sample(self, statuses: Sequence[Mapping[str, Any]]) -> list[Sample]:
        jobs = [
            self._pool.submit(_probe, self._client, name, port, token)
            for name, port, token in self.targets(statuses)
        ]
        out: list[Sample] = []
        for job in jobs:
            out += job.result()
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()
