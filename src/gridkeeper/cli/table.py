"""Plain-text tables. No rich here: `status` must start fast (see benchmarks/keeper.py)."""

from __future__ import annotations

TYPE_CHECKING = False  # `status` starts faster without importing typing (see cli/fast.py)
if TYPE_CHECKING:
    from typing import Any

STATUS_HEADER = [
    "NAME",
    "STATE",
    "PID",
    "UPTIME",
    "RESTARTS",
    "LAST EXIT",
    "CPU%",
    "RSS MB",
    "HEALTH",
    "PORT",
]
_COLOURS = {
    "running": "32",
    "starting": "33",
    "backoff": "33",
    "stopping": "33",
    "fatal": "31",
    "exited": "36",
    "stopped": "2",
}


def use_colour(stream: Any) -> bool:
    """Colour only on a terminal, and never when $NO_COLOR is set (https://no-color.org)."""
    import os

    return bool(stream.isatty()) and not os.environ.get("NO_COLOR")


def render(header: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, no trailing spaces."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    lines = []
    for line in [header, *rows]:
        cells = [c.ljust(w) for c, w in zip(line[:-1], widths[:-1], strict=True)]
        lines.append("  ".join([*cells, line[-1]]).rstrip())
    return "\n".join(lines)


def uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


GRID_HEADER = ["TRADING", "RANGE", "POSITION", "ORDERS", "PNL"]


def _short(value: Any, width: int = 12) -> str:
    """A decimal string trimmed for a table cell (the JSON keeps every digit)."""
    if value is None:
        return "-"
    text = str(value)
    if "." in text:
        text = text.rstrip("0").rstrip(".") or "0"
    return text[:width]


def grid_cells(grid: dict[str, Any] | None) -> list[str]:
    """TRADING, RANGE, POSITION, ORDERS, PNL of one row: `-` for a program that is not a grid
    (or a grid that is not running), `?` for a running grid bot that did not answer."""
    if grid is None:
        return ["-"] * len(GRID_HEADER)
    if not grid.get("answered"):
        mark = "-" if grid.get("error") == "not running" else "?"
        return [mark] * len(GRID_HEADER)
    trading = str(grid.get("trading") or "?")
    if grid.get("reason") and trading != "trading":
        trading += f" ({grid['reason']})"
    if grid.get("closing"):
        trading += " closing"
    return [
        trading[:40],
        str(grid.get("range") or "?"),
        _short(grid.get("position")),
        str(grid.get("open_orders", "?")),
        _short(grid.get("total_pnl")),
    ]


def health_cell(row: dict[str, Any]) -> str:
    """The last probe's verdict only while a process runs: a stopped or backing-off instance
    shows `-`, never the `healthy` of a process that is gone."""
    if row.get("state") not in ("running", "starting"):
        return "-"
    return str(row.get("health") or "-")[:60]


def status_table(rows: list[dict[str, Any]], *, colour: bool) -> str:
    """The `status`/`list` table; states coloured on a terminal. Grid columns are added when
    any row is a grid bot (`row["grid"]`, see cli/grid_probe.py)."""
    with_grid = any(r.get("grid") is not None for r in rows)
    body = []
    for r in rows:
        body.append(
            [
                r["name"],
                r["state"],
                str(r["pid"] or "-"),
                uptime(r.get("uptime_s")),
                str(r.get("restarts", 0)),
                r.get("last_exit") or "-",
                f"{r.get('cpu_percent') or 0:.1f}",
                f"{r.get('rss_mb') or 0:.1f}",
                health_cell(r),
                str(r.get("port") or "-"),
                *(grid_cells(r.get("grid")) if with_grid else []),
            ]
        )
    text = render([*STATUS_HEADER, *(GRID_HEADER if with_grid else [])], body)
    if not colour:
        return text
    lines = text.split("\n")
    for i, r in enumerate(rows, start=1):
        code = _COLOURS.get(r["state"])
        if code:
            # The state is the second column; colour just that word.
            name_end = len(r["name"])
            head, _, tail = lines[i][name_end:].partition(r["state"])
            lines[i] = lines[i][:name_end] + head + f"\033[{code}m{r['state']}\033[0m" + tail
    return "\n".join(lines)
