"""Plain-text tables. No rich here: `status` must start fast (see benchmarks/keeper.py)."""

from __future__ import annotations

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


def status_table(rows: list[dict[str, Any]], *, colour: bool) -> str:
    """The `status`/`list` table; states coloured on a terminal."""
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
                str(r.get("health") or "-")[:60],
                str(r.get("port") or "-"),
            ]
        )
    text = render(STATUS_HEADER, body)
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
