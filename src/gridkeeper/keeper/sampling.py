"""Resource samples of every instance's process tree, straight from /proc (gridkeeper.proctree):
one stat read per process of our trees, nothing else on the host touched, no objects kept. Cheap
enough that the keeper does it only when something needs the figures (a limit to enforce, a
`status` to answer) and sleeps otherwise.

CPU% is the tree's CPU time since the previous sample over the wall time since then, so a tree
sampled seldom reports its average over that longer window. A process is identified by pid and
start time, so a recycled pid never inherits another's ticks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gridkeeper.proctree import CLOCK_TICKS, PAGE_SIZE, Stat, read_stat, trees


@dataclass
class Usage:
    rss_mb: float
    cpu_percent: float


def read_trees(roots: Iterable[int]) -> dict[int, list[tuple[int, Stat]]]:
    """Each root's live tree members with their Stat (a root that is gone: left out)."""
    out: dict[int, list[tuple[int, Stat]]] = {}
    for root, members in trees(roots).items():
        stats = [(pid, s) for pid in members if (s := read_stat(pid)) is not None]
        if stats and stats[0][0] == root:
            out[root] = stats
    return out


class Sampler:
    """Remembers each process's ticks between samples, to turn them into CPU%."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._seen: dict[tuple[int, int], int] = {}
        self._at: float | None = None

    def sample(
        self, roots: Iterable[int], found: dict[int, list[tuple[int, Stat]]] | None = None
    ) -> dict[int, Usage]:
        """Usage of each root's process tree (roots that are gone are left out). `found` is
        what `read_trees` returns (tests pass their own)."""
        found = read_trees(roots) if found is None else found
        now = self.clock()
        window = None if self._at is None else now - self._at
        seen: dict[tuple[int, int], int] = {}
        out: dict[int, Usage] = {}
        for root, members in found.items():
            pages = 0
            used = 0
            for pid, stat in members:
                pages += stat.rss_pages
                key = (pid, stat.start)
                seen[key] = stat.ticks
                before = self._seen.get(key)
                # A process new since the last sample counts from its own start.
                used += stat.ticks - (before if before is not None else stat.ticks)
            cpu = 100.0 * used / CLOCK_TICKS / window if window and window > 0 else 0.0
            out[root] = Usage(pages * PAGE_SIZE / (1024 * 1024), max(0.0, cpu))
        self._seen = seen
        self._at = now
        return out
