"""Resource samples of every instance's process tree from one pass over /proc.

psutil builds a Process object per pid and reads several files for each; the keeper only needs
each process's parent, CPU ticks and resident pages, all in `/proc/<pid>/stat`. One read per
process, no objects kept: a scan of a host with a few hundred processes costs about a
millisecond, so the keeper can afford to do it only when something needs the figures (a limit
to enforce, a `status` to answer) and sleep otherwise.

CPU% is the tree's CPU time since the previous scan over the wall time since then, so a tree
sampled seldom reports its average over that longer window. A process is identified by pid and
start time, so a recycled pid never inherits another's ticks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class Stat:
    ppid: int
    ticks: int  # utime + stime
    rss_pages: int
    start: int  # start time in ticks since boot: with the pid, the process's identity


def parse_stat(raw: bytes) -> Stat | None:
    """The fields we need from one `/proc/<pid>/stat` line; None when it is not one."""
    # comm may hold spaces and parentheses: it ends at the last ')'.
    rpar = raw.rfind(b")")
    fields = raw[rpar + 2 :].split()
    if rpar < 0 or len(fields) < 22:
        return None
    # After comm: state(0) ppid(1) ... utime(11) stime(12) ... starttime(19) vsize(20) rss(21)
    try:
        return Stat(
            ppid=int(fields[1]),
            ticks=int(fields[11]) + int(fields[12]),
            rss_pages=int(fields[21]),
            start=int(fields[19]),
        )
    except ValueError:
        return None


def scan(proc: str = "/proc") -> dict[int, Stat]:
    """Every live process's Stat, one read each (processes that vanish mid-scan are skipped)."""
    found: dict[int, Stat] = {}
    # os/open rather than pathlib: a Path object per process would cost more than the read.
    for name in os.listdir(proc):  # noqa: PTH208
        if not name.isdigit():
            continue
        try:
            with open(f"{proc}/{name}/stat", "rb") as fh:  # noqa: PTH123
                raw = fh.read()
        except OSError:
            continue
        stat = parse_stat(raw)
        if stat is not None:
            found[int(name)] = stat
    return found


def tree(pid: int, stats: dict[int, Stat], kids: dict[int, list[int]]) -> list[int]:
    """`pid` and its descendants that the scan saw."""
    if pid not in stats:
        return []
    found = [pid]
    stack = list(kids.get(pid, ()))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(kids.get(child, ()))
    return found


@dataclass
class Usage:
    rss_mb: float
    cpu_percent: float


class Sampler:
    """Remembers each process's ticks between scans, to turn them into CPU%."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._seen: dict[tuple[int, int], int] = {}
        self._at: float | None = None

    def sample(
        self, roots: Iterable[int], stats: dict[int, Stat] | None = None
    ) -> dict[int, Usage]:
        """Usage of each root's process tree (roots that are gone are left out)."""
        stats = scan() if stats is None else stats
        now = self.clock()
        window = None if self._at is None else now - self._at
        kids: dict[int, list[int]] = {}
        for pid, stat in stats.items():
            kids.setdefault(stat.ppid, []).append(pid)
        seen: dict[tuple[int, int], int] = {}
        out: dict[int, Usage] = {}
        for root in roots:
            pages = 0
            used = 0
            for pid in tree(root, stats, kids):
                stat = stats[pid]
                pages += stat.rss_pages
                key = (pid, stat.start)
                seen[key] = stat.ticks
                before = self._seen.get(key)
                # A process new since the last scan counts from its own start.
                used += stat.ticks - (before if before is not None else stat.ticks)
            if root in stats:
                cpu = 100.0 * used / _TICKS / window if window and window > 0 else 0.0
                out[root] = Usage(pages * _PAGE / (1024 * 1024), max(0.0, cpu))
        self._seen = seen
        self._at = now
        return out
