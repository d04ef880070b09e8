"""A small client of one grid bot's control API, and how to find an instance's bot and file.

The bot's port comes from the instance config (`daemon_config.web_port`) or the keeper, its
bearer token from `<home>/tokens/<NAME>.token`; `--url` talks to an explicit address instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from gridkeeper.config import find_settings, instances_dir, load_instance, load_settings
from gridkeeper.errors import ConfigError, GridkeeperError, OperationFailed, UsageError
from gridkeeper.paths import resolve_home

DEFAULT_URL = "http://127.0.0.1:5000"


class BadRequest(UsageError):
    """The bot refused the request as invalid (HTTP 400); nothing was changed."""

    def __init__(self, message: str, field: str | None) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class GridControl:
    """A small client of one bot's control API."""

    url: str
    token: str | None = None
    timeout: float = 10.0

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = httpx.request(
                method,
                self.url.rstrip("/") + path,
                json=body,
                headers=headers,
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise OperationFailed(
                f"the control API at {self.url} does not answer ({exc.__class__.__name__}); "
                "is the bot running?"
            ) from exc
        try:
            data = response.json()
        except ValueError:
            data = {"error": response.text[:200]}
        if response.status_code == 400:
            raise BadRequest(str(data.get("error", "bad request")), data.get("field"))
        if response.status_code == 401:
            raise OperationFailed(f"{self.url} refused the token (HTTP 401): check the token file")
        if response.status_code >= 400 and path != "/health":
            raise OperationFailed(
                f"{self.url}{path}: HTTP {response.status_code}: {data.get('error', data)}"
            )
        return data

    def grid(self) -> dict[str, Any]:
        result: dict[str, Any] = self._send("GET", "/api/grid")
        return result

    def balances(self) -> dict[str, Any]:
        result: dict[str, Any] = self._send("GET", "/api/balances")
        return result

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._send("GET", "/health/detailed")
        return result

    def adjust(
        self,
        lower: Decimal | None,
        upper: Decimal | None,
        num: int | None,
        position: str | None = None,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"dry_run": True} if dry_run else {}
        if position is not None:
            body["position"] = position
        if lower is not None:
            body["grid_lower_price"] = format(lower, "f")
        if upper is not None:
            body["grid_upper_price"] = format(upper, "f")
        if num is not None:
            body["grid_num"] = num
        result: dict[str, Any] = self._send("POST", "/api/grid/adjust", body)
        return result

    def adopt(self) -> dict[str, Any]:
        result: dict[str, Any] = self._send("POST", "/api/grid/adopt", {})
        return result

    def command(self, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._send("POST", f"/api/{name}", body or {})
        return result

    def stop(self, *, cancel_orders: bool = False, flatten: bool = False) -> dict[str, Any]:
        """`POST /api/stop`: stop trading; see bot.api for what the flags do."""
        return self.command("stop", {"cancel_orders": cancel_orders, "flatten": flatten})


def read_token(home: Path, name: str) -> str | None:
    path = home / "tokens" / f"{name}.token"
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def keeper_web_port(name: str, home: Path) -> int | None:
    """The web_port of an instance the keeper of `home` knows (it knows each instance's config,
    so this works from any directory); None when no keeper answers or it has no such instance.
    Never starts a keeper."""
    from gridkeeper.keeper.client import KeeperClient

    client = KeeperClient(home, timeout=10)
    try:
        if client.ping() is None:
            return None
        rows = client.request("status", names=[name])
    except GridkeeperError:
        return None
    for row in rows if isinstance(rows, list) else []:
        if row.get("name") == name:
            if row.get("port") is None:
                raise UsageError(
                    f"instance {name!r} ({row.get('config')}) has no daemon_config.web_port"
                )
            return int(row["port"])
    return None


def find_web_port(name: str, settings_path: Path | None, home: Path | None = None) -> int:
    """The instance's web_port: through the keeper when it runs the instance, else from its
    config in the instances directory."""
    if home is not None:
        port = keeper_web_port(name, home)
        if port is not None:
            return port
    found = find_settings(settings_path)
    settings = load_settings(found)
    folder = instances_dir(found, settings)
    for path in sorted(folder.glob("*.json")):
        try:
            inst = load_instance(path, settings)
        except ConfigError:
            continue
        if inst.name == name:
            if inst.web_port is None:
                raise UsageError(f"instance {name!r} ({path}) has no daemon_config.web_port")
            return inst.web_port
    raise UsageError(
        f"no instance named {name!r}: the keeper of {home or 'this home'} does not know it and "
        f"it is not in {folder} (run from the project directory, or give --home or --settings)"
    )


def control_for(
    name: str | None, home: Path | None, settings_path: Path | None, url: str | None
) -> GridControl:
    home_dir = resolve_home(home)
    if url is not None:
        return GridControl(url, read_token(home_dir, name) if name else None)
    if name is None:
        raise UsageError("give an instance NAME or --url")
    port = find_web_port(name, settings_path, home_dir)
    return GridControl(f"http://127.0.0.1:{port}", read_token(home_dir, name))


def save_range(path: Path, view: dict[str, Any]) -> Path:
    """Write the grid's range (from the bot's answer) into the instance's config file."""
    from gridkeeper.config.edit import write_grid_range

    write_grid_range(
        path,
        lower=Decimal(view["grid_lower_price"]),
        upper=Decimal(view["grid_upper_price"]),
        num=int(view["grid_num"]),
    )
    return path


def instance_config_path(name: str, home: Path | None, settings_path: Path | None) -> Path:
    """The config file of instance `name`: the keeper's when it runs it, else the instances
    directory's."""
    from gridkeeper.keeper.client import KeeperClient

    client = KeeperClient(resolve_home(home), timeout=10)
    try:
        rows = client.request("status", names=[name]) if client.ping() is not None else []
    except GridkeeperError:
        rows = []
    for row in rows if isinstance(rows, list) else []:
        if row.get("name") == name and row.get("config"):
            return Path(row["config"])
    found = find_settings(settings_path)
    settings = load_settings(found)
    folder = instances_dir(found, settings)
    for path in sorted(folder.glob("*.json")):
        try:
            if load_instance(path, settings).name == name:
                return path
        except ConfigError:
            continue
    raise UsageError(f"no config file for instance {name!r} (looked in {folder})")
