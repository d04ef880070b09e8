"""What the commands do, through the contracts only (docs/architecture.md):

- the keeper's socket API (`gridkeeper.keeper.client`): status, start, stop;
- each grid bot's control API on 127.0.0.1:<port> with its bearer token
  (`<home>/tokens/<name>.token`): `/api/grid`, `/api/pause|resume|stop`, `/api/grid/adjust`;
- the bots' stores `<home>/bots/<name>.db`, read-only through gridkeeper.gridstore, for profit
  (the same reader and sums as `gridkeeper profit`);
- `monitor.db` through its own connection, as `gridkeeper alerts ack` does (the running
  monitor picks an ack up within half a second).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gridkeeper.errors import GridkeeperError
from gridkeeper.gridstore import StoreError, read_totals, store_paths
from gridkeeper.keeper.client import KeeperClient
from gridkeeper.monitor.store import Store

BOT_TIMEOUT = 10.0
KEEPER_TIMEOUT = 120.0  # a stop waits for the instance's stop_timeout


class OpError(Exception):
    """An operation could not be done; the message is the reply."""


@dataclass(frozen=True)
class BotAnswer:
    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> str:
        text = str(self.body.get("error") or self.body.get("detail") or f"HTTP {self.status}")
        field = self.body.get("field")
        return f"{text} (field: {field})" if field else text


class Ops:
    def __init__(self, home: Path) -> None:
        self.home = home
        self._http = httpx.Client(timeout=BOT_TIMEOUT, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    # -- keeper ------------------------------------------------------------------------------
    def keeper(self, op: str, timeout: float = KEEPER_TIMEOUT, **args: Any) -> Any:
        try:
            return KeeperClient(self.home, timeout=timeout).request(op, **args)
        except GridkeeperError as exc:
            raise OpError(f"keeper: {exc}") from None
        except OSError as exc:
            raise OpError(f"keeper: {type(exc).__name__}: {exc}") from None

    def status(self) -> list[dict[str, Any]]:
        rows = self.keeper("status", timeout=10.0)
        return [r for r in rows or [] if isinstance(r, dict)]

    def instance(self, name: str) -> dict[str, Any]:
        for row in self.status():
            if row.get("name") == name:
                return row
        raise OpError(f"no instance named {name!r}; /status lists them")

    # -- bots --------------------------------------------------------------------------------
    def token(self, name: str) -> str | None:
        try:
            return (self.home / "tokens" / f"{name}.token").read_text().strip() or None
        except OSError:
            return None

    def is_grid(self, row: dict[str, Any]) -> bool:
        """A grid bot writes its control API's token at start; other programs do not."""
        return bool(row.get("port")) and self.token(str(row.get("name"))) is not None

    def bot(self, row: dict[str, Any], method: str, path: str, body: Any = None) -> BotAnswer:
        name = str(row.get("name"))
        token = self.token(name)
        if not row.get("port") or token is None:
            raise OpError(f"{name} is not a grid bot (no control API port or token)")
        url = f"http://127.0.0.1:{int(row['port'])}{path}"
        headers = {"Authorization": f"Bearer {token}"}
        try:
            if method == "GET":
                resp = self._http.get(url, headers=headers)
            else:
                resp = self._http.post(url, headers=headers, json=body if body is not None else {})
        except httpx.HTTPError as exc:
            raise OpError(f"{name} does not answer ({type(exc).__name__})") from None
        try:
            data = resp.json()
        except ValueError:
            data = None
        return BotAnswer(resp.status_code, data if isinstance(data, dict) else {})

    def grid_view(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """The bot's `/api/grid`, or None when it is not a grid or does not answer."""
        if not self.is_grid(row) or row.get("state") not in ("running", "starting"):
            return None
        try:
            answer = self.bot(row, "GET", "/api/grid")
        except OpError:
            return None
        return answer.body if answer.ok else None

    # -- profit ------------------------------------------------------------------------------
    def profit(self, name: str | None) -> list[dict[str, Any]]:
        try:
            paths = store_paths(self.home, [] if name is None else [name])
        except StoreError as exc:
            raise OpError(str(exc)) from None
        return [read_profit(p) for p in paths]

    # -- alerts ------------------------------------------------------------------------------
    def firing_alerts(self) -> list[dict[str, Any]]:
        store = self._store()
        try:
            rows = store.list_alerts(time.time(), "firing")
        finally:
            store.close()
        return rows

    def ack(self, alert_id: int) -> bool:
        store = self._store()
        try:
            return store.ack(alert_id, time.time())
        finally:
            store.close()

    def _store(self) -> Store:
        try:
            return Store.open(self.home)
        except (sqlite3.Error, OSError) as exc:
            raise OpError(f"monitor.db: {exc}") from None


def read_profit(path: Path) -> dict[str, Any]:
    """One grid's totals as of its last save: realized, unrealized, total, fees, funding,
    position (Decimals), fills; or the reason it has none (`error`)."""
    name = path.stem
    try:
        totals = read_totals(path)
    except StoreError as exc:
        return {"name": name, "error": str(exc)}
    return {
        "name": name,
        "realized": totals.realized,
        "unrealized": totals.unrealized,
        "total": totals.total,
        "fees": totals.fees,
        "funding": totals.funding,
        "position": totals.position,
        "fills": totals.fills,
    }
