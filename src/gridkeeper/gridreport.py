"""What a grid bot reports about its trading: one small JSON file per grid in the home.

The contract between the bot (the only writer) and its readers (the monitor's trading alerts):
`<home>/grids/<instance>.json`, replaced atomically, holding a `GridReport`. A file, not a call,
so the bot never imports the monitor, a report written while the monitor restarts is read when
it is back, and the last word of a bot that died stays readable. The monitor's rules turn
reports into alerts (grid_paused, grid_stopped, grid_drawdown, ...); nothing here decides what
is alarming.

This module imports nothing of ours: it sits beside `paths`, below `bot` and `monitor`.
Decimals are written as strings (never floats) and read back as Decimal.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

REPORT_DIR = "grids"
VERSION = 1
# Why a grid is paused or stopped, as the bot classifies its own reason text.
REASON_KINDS = (
    "boundary",
    "stop_loss",
    "take_profit",
    "position_mismatch",
    "invariant",
    "operator",
)
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
_DECIMALS = (
    "price",
    "lower",
    "upper",
    "position",
    "exchange_position",
    "total_pnl",
    "capital",
    "base_available",
    "quote_available",
)
_TEXTS = ("symbol", "status", "reason", "reason_kind", "base", "quote")
_TIMES = ("last_fill_at", "trading_since")


@dataclass(frozen=True)
class GridReport:
    """One grid's trading state at `written_at` (epoch seconds)."""

    instance: str
    symbol: str
    written_at: float
    status: str  # running | paused | stopped
    reason: str | None = None
    reason_kind: str | None = None  # one of REASON_KINDS while paused or stopped
    closing: bool = False  # still flattening the position after a stop
    price: Decimal | None = None  # the last trade price
    lower: Decimal | None = None
    upper: Decimal | None = None
    position: Decimal | None = None
    exchange_position: Decimal | None = None
    total_pnl: Decimal | None = None
    capital: Decimal | None = None  # the grid's notional: every level's buy at its size
    base: str = ""  # asset names of the balances below
    quote: str = ""
    base_available: Decimal | None = None  # None: not read yet
    quote_available: Decimal | None = None
    fills: int = 0  # fills applied since the grid started
    last_fill_at: float | None = None  # newest fill applied (epoch seconds); None: never
    trading_since: float | None = None  # when it last began trading (start or resume)
    reject_times: tuple[float, ...] = field(default_factory=tuple)  # recent order rejects
    pid: int = 0

    def to_json(self) -> bytes:
        data: dict[str, Any] = {"version": VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Decimal):
                value = format(value, "f")
            elif isinstance(value, tuple):
                value = list(value)
            data[f.name] = value
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> GridReport:
        """ValueError when `raw` is not a report (a torn or foreign file)."""
        data = json.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("instance"), str):
            raise ValueError("not a grid report")
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {k: v for k, v in data.items() if k in known}
        try:
            for name in _DECIMALS:
                if kwargs.get(name) is not None:
                    kwargs[name] = Decimal(str(kwargs[name]))
                    if not kwargs[name].is_finite():
                        raise ValueError(f"{name} is not a finite number")
            for name in _TEXTS:
                if name in kwargs and kwargs[name] is not None:
                    kwargs[name] = str(kwargs[name])
            for name in _TIMES:
                if kwargs.get(name) is not None:
                    kwargs[name] = float(kwargs[name])
            kwargs["written_at"] = float(kwargs["written_at"])
            kwargs["fills"] = int(kwargs.get("fills") or 0)
            kwargs["pid"] = int(kwargs.get("pid") or 0)
            kwargs["closing"] = bool(kwargs.get("closing"))
            kwargs["reject_times"] = tuple(float(t) for t in kwargs.get("reject_times") or ())
            return cls(**kwargs)
        except (InvalidOperation, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a grid report: {exc}") from exc


def report_dir(home: Path) -> Path:
    return home / REPORT_DIR


def report_path(home: Path, instance: str) -> Path:
    if not _NAME.match(instance):
        raise ValueError(f"instance name {instance!r} cannot name a report file")
    return report_dir(home) / f"{instance}.json"


def write_report(home: Path, report: GridReport) -> None:
    """Replace the instance's report atomically (readers never see half a file). OSError on a
    full disk or an unwritable home: the caller decides whether that matters."""
    path = report_path(home, report.instance)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(report.to_json())
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def read_report(path: Path) -> GridReport | None:
    """The report in `path`; None when it is missing or unreadable."""
    try:
        return GridReport.from_json(path.read_bytes())
    except (OSError, ValueError):
        return None


class ReportReader:
    """Every report in a home, re-reading only files whose size or mtime changed.

    `read()` returns instance -> report and whether anything changed since the last call, so
    a caller polling twice a second parses a file only when its bot wrote it.
    """

    def __init__(self, home: Path) -> None:
        self.dir = report_dir(home)
        self._cache: dict[str, tuple[tuple[int, int], GridReport | None]] = {}

    def read(self) -> tuple[dict[str, GridReport], bool]:
        seen: dict[str, tuple[tuple[int, int], GridReport | None]] = {}
        changed = False
        try:
            entries = list(os.scandir(self.dir))
        except OSError:
            entries = []
        for entry in entries:
            if not entry.name.endswith(".json") or entry.name.startswith("."):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            key = (st.st_mtime_ns, st.st_size)
            cached = self._cache.get(entry.name)
            if cached is not None and cached[0] == key:
                seen[entry.name] = cached
                continue
            seen[entry.name] = (key, read_report(Path(entry.path)))
            changed = True
        if set(seen) != set(self._cache):
            changed = True
        self._cache = seen
        reports = {r.instance: r for _, r in seen.values() if r is not None}
        return reports, changed
