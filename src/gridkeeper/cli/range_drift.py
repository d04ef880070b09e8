"""The running grid's range next to its config file's: `config show NAME` and `reload` say when
they differ, and which wins.

The running range wins, always: a bot keeps its grid (range included) in its store and loads it
at every start, so the file's strategy_config.grid_lower_price/grid_upper_price/grid_num only
lay out a new grid (no store yet). `grid adjust` moves the running grid; `--save` writes the
new range to the file so both agree again.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from gridkeeper.cli.grid_client import GridControl, read_token
from gridkeeper.cli.grid_probe import LIVE, is_grid
from gridkeeper.errors import ConfigError, GridkeeperError

WINS = (
    "the running grid's range wins (the bot keeps it in its store, also across restarts); "
    "`gridkeeper grid adjust {name} --lower {fl} --upper {fu}` moves the grid to the file's, "
    "`--save` on an adjust writes the running range to the file"
)


def _dec(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


def compare(name: str, file_range: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    """`file_range` and the bot's `/api/grid` answer, side by side."""
    running = {
        "grid_lower_price": view.get("grid_lower_price"),
        "grid_upper_price": view.get("grid_upper_price"),
        "grid_num": view.get("grid_num"),
    }
    differs = (
        _dec(running["grid_lower_price"]) != _dec(file_range["grid_lower_price"])
        or _dec(running["grid_upper_price"]) != _dec(file_range["grid_upper_price"])
        or running["grid_num"] != file_range["grid_num"]
    )
    result: dict[str, Any] = {
        "name": name,
        "file": file_range,
        "running": running,
        "differs": differs,
        "wins": "running",
    }
    if differs:
        result["note"] = WINS.format(
            name=name, fl=file_range["grid_lower_price"], fu=file_range["grid_upper_price"]
        )
    return result


def file_range(path: Path) -> dict[str, Any] | None:
    """The range as written in the file (read raw: no environment needed, nothing validated)."""
    from gridkeeper.config.jsonfile import read_json

    try:
        strategy = read_json(path).get("strategy_config")
    except ConfigError:
        return None
    if not isinstance(strategy, dict) or "grid_lower_price" not in strategy:
        return None
    return {
        "grid_lower_price": str(strategy.get("grid_lower_price")),
        "grid_upper_price": str(strategy.get("grid_upper_price")),
        "grid_num": strategy.get("grid_num"),
    }


def running_view(home: Path, name: str, port: int, timeout: float = 3.0) -> dict[str, Any] | None:
    try:
        return GridControl(f"http://127.0.0.1:{port}", read_token(home, name), timeout).grid()
    except GridkeeperError:
        return None


def drifts(home: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For every running grid bot among the keeper's `rows`: its range against its file's."""
    found: list[dict[str, Any]] = []
    for row in rows:
        if not is_grid(home, row) or row.get("state") not in LIVE or not row.get("config"):
            continue
        name = str(row["name"])
        in_file = file_range(Path(row["config"]))
        view = running_view(home, name, int(row["port"]))
        if in_file is None or view is None:
            continue
        found.append(compare(name, in_file, view))
    return found


def describe(drift: dict[str, Any]) -> str:
    f, r = drift["file"], drift["running"]
    return (
        f"{drift['name']}: running range {r['grid_lower_price']}-{r['grid_upper_price']} "
        f"({r['grid_num']}) differs from the file's {f['grid_lower_price']}-"
        f"{f['grid_upper_price']} ({f['grid_num']}): {drift['note']}"
    )
