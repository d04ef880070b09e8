"""Where every figure on the dashboard comes from — never a copy of our own:

- instances, their states and actions: the keeper's socket API (`gridkeeper.keeper.client`);
- each grid's trading state, range, orders, pause/resume/stop/adjust: the bot's control API,
  with the bot's own token from `<home>/tokens/<name>.token`;
- alerts, silences and host metrics: the monitor's `monitor.db` (what `gridkeeper alerts` reads);
- fills and PnL over time: the bot's store `<home>/bots/<name>.db`, read-only (web/fills.py);
- log tails: the instance's log file (gridkeeper.logs.reader).

Blocking calls (the keeper's client, SQLite) run in worker threads; the event loop only waits.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx

from gridkeeper.cli.grid_probe import add_grid_columns, token_path
from gridkeeper.errors import GridkeeperError
from gridkeeper.keeper.client import KeeperClient

BOT_TIMEOUT_S = 10.0
HOST_METRICS = (
    "gridkeeper_host_cpu_used_ratio",
    "gridkeeper_host_memory_used_ratio",
    "gridkeeper_host_load1",
    "gridkeeper_host_filesystem_used_ratio",
    "gridkeeper_keeper_up",
)


class SourceError(Exception):
    """A source refused or failed; `status` is the HTTP status the dashboard answers with and
    the message is shown to the operator as is."""

    def __init__(self, message: str, status: int = 502, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class Sources:
    def __init__(self, home: Path) -> None:
        self.home = home

    # -- keeper --------------------------------------------------------------------------------
    def _keeper(self, op: str, timeout: float, **args: Any) -> Any:
        try:
            return KeeperClient(self.home, timeout=timeout).request(op, **args)
        except GridkeeperError as exc:
            status = 404 if getattr(exc, "code", "") == "not_found" else 502
            raise SourceError(str(exc), status) from None

    async def keeper(self, op: str, timeout: float = 120.0, **args: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: self._keeper(op, timeout, **args))

    def _instances(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._keeper("status", 10.0)
        add_grid_columns(self.home, rows)
        return rows

    async def instances(self) -> list[dict[str, Any]]:
        """The keeper's status rows, each with `grid` (the bot's columns, or None)."""
        return await anyio.to_thread.run_sync(self._instances)

    async def instance(self, name: str) -> dict[str, Any]:
        rows = await self.keeper("status", 10.0, names=[name])
        if not rows:
            raise SourceError(f"no instance named {name!r}", 404)
        row: dict[str, Any] = rows[0]
        return row

    # -- bots ----------------------------------------------------------------------------------
    async def bot(self, name: str, method: str, path: str, body: Any = None) -> Any:
        """A call to the bot's control API; its own error answers pass through unchanged (a 400
        with `error`/`field` from an adjust is what the operator must read)."""
        row = await self.instance(name)
        port = row.get("port")
        if not port:
            raise SourceError(f"{name} has no control API (no web_port)", 409)
        try:
            token = token_path(self.home, name).read_text().strip()
        except OSError:
            raise SourceError(f"{name} is not a grid bot (no token in the home)", 409) from None
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with httpx.AsyncClient(timeout=BOT_TIMEOUT_S) as client:
                answer = await client.request(
                    method, f"http://127.0.0.1:{port}{path}", headers=headers, json=body
                )
        except httpx.HTTPError as exc:
            raise SourceError(f"{name} does not answer on port {port}: {exc}", 502) from None
        try:
            data = answer.json()
        except ValueError:
            data = {"error": answer.text.strip()[:500] or f"HTTP {answer.status_code}"}
        if answer.status_code >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            raise SourceError(
                f"{name} answered {answer.status_code}: {message or data}",
                answer.status_code if answer.status_code < 500 else 502,
                data,
            )
        return data

    # -- monitor -------------------------------------------------------------------------------
    def _store(self, create: bool = False) -> Any:
        from gridkeeper.monitor.store import DB_NAME, Store

        path = self.home / DB_NAME
        if not create and not path.exists():
            return None
        return Store(path)

    def _alerts(self, since_s: float) -> dict[str, Any]:
        store = self._store()
        if store is None:
            return {"alerts": [], "silences": [], "monitor": False}
        try:
            now = time.time()
            rows = store.list_alerts(now - since_s)
            silences = store.active_silences(now)
        finally:
            store.close()
        rows.sort(key=lambda r: (r["state"] != "firing", -(r["fired_at"] or r["started_at"] or 0)))
        return {"alerts": rows, "silences": silences, "monitor": True}

    async def alerts(self, since_s: float = 86400.0) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(lambda: self._alerts(since_s))

    def _ack(self, alert_id: int) -> None:
        store = self._store(create=True)
        try:
            if not store.ack(alert_id, time.time()):
                raise SourceError(f"no alert #{alert_id}", 404)
        finally:
            store.close()

    async def ack(self, alert_id: int) -> None:
        await anyio.to_thread.run_sync(lambda: self._ack(alert_id))

    def _silence(self, pattern: str, seconds: float, comment: str) -> int:
        store = self._store(create=True)
        try:
            now = time.time()
            return int(store.add_silence(pattern, now, now + seconds, comment))
        finally:
            store.close()

    async def silence(self, pattern: str, seconds: float, comment: str) -> int:
        return await anyio.to_thread.run_sync(lambda: self._silence(pattern, seconds, comment))

    def _host(self) -> list[dict[str, Any]]:
        store = self._store()
        if store is None:
            return []
        try:
            rows: list[dict[str, Any]] = store.latest()
        finally:
            store.close()
        return [r for r in rows if r["name"] in HOST_METRICS]

    async def host(self) -> list[dict[str, Any]]:
        return await anyio.to_thread.run_sync(self._host)

    def monitor_version(self) -> int | None:
        """Changes when monitor.db changes (a new alert, an ack): the SSE loop's cheap check."""
        from gridkeeper.monitor.store import DB_NAME

        path = self.home / DB_NAME
        try:
            st = path.stat()
            wal = path.with_name(path.name + "-wal").stat().st_mtime_ns
        except FileNotFoundError:
            return None if not path.exists() else int(path.stat().st_mtime_ns)
        return hash((st.st_mtime_ns, wal))

    # -- files ---------------------------------------------------------------------------------
    def bot_db(self, name: str) -> Path:
        return self.home / "bots" / f"{name}.db"

    def _log_tail(self, row: dict[str, Any], lines: int) -> list[str]:
        from gridkeeper.logs.reader import tail
        from gridkeeper.logs.retention import current_name

        name = str(row["name"])
        # The keeper's status names the instance's own log folder (`<log_dir>/<name>`).
        log_dir = row.get("log_dir")
        candidates = [Path(str(log_dir)) / current_name(name, "log")] if log_dir else []
        for path in candidates:
            if path.is_file():
                return tail(path, lines)
        return []

    async def log_tail(self, name: str, lines: int) -> list[str]:
        row = await self.instance(name)
        return await anyio.to_thread.run_sync(lambda: self._log_tail(row, lines))
