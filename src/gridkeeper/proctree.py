"""Process trees and per-process figures straight from /proc, shared by the keeper and the
monitor (like paths.py, a leaf module: it imports nothing of ours, nor psutil).

psutil builds a Process object per pid and reads several files for each; sampling our instances
only needs, per process, its parent, CPU ticks, resident pages, threads and start time, all in
one `/proc/<pid>/stat` read. An instance's tree is walked down from its main process through
`/proc/<pid>/task/<tid>/children` (a handful of reads per instance, whatever else runs on the
host); on a kernel without that file, one pass over every process's stat builds the parent map.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

# os/open rather than pathlib throughout: a Path object per process costs more than its read.
# ruff: noqa: PTH110, PTH123, PTH208

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_HAS_CHILDREN = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


@dataclass(frozen=True, slots=True)
class Stat:
    state: str  # R, S, D, Z (zombie), T, ...
    ppid: int
    ticks: int  # utime + stime, in CLOCK_TICKS
    rss_pages: int
    threads: int
    start: int  # start time in ticks since boot: with the pid, the process's identity


def parse_stat(raw: bytes) -> Stat | None:
    """The fields we need from one `/proc/<pid>/stat` line; None when it is not one."""
    # comm may hold spaces and parentheses: it ends at the last ')'.
    rpar = raw.rfind(b")")
    fields = raw[rpar + 2 :].split()
    if rpar < 0 or len(fields) < 22:
        return None
    # After comm: state(0) ppid(1) ... utime(11) stime(12) ... num_threads(17) ...
    # starttime(19) vsize(20) rss(21)
    try:
        return Stat(
            state=fields[0].decode("ascii", "replace"),
            ppid=int(fields[1]),
            ticks=int(fields[11]) + int(fields[12]),
            rss_pages=int(fields[21]),
            threads=int(fields[17]),
            start=int(fields[19]),
        )
    except ValueError:
        return None


def read_stat(pid: int) -> Stat | None:
    """One process's Stat; None when it is gone (a zombie still has one)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return parse_stat(fh.read())
    except OSError:
        return None


def pids() -> list[int]:
    """Every process's pid."""
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def scan() -> dict[int, Stat]:
    """Every live process's Stat, one read each (processes that vanish mid-scan are skipped)."""
    found: dict[int, Stat] = {}
    for pid in pids():
        stat = read_stat(pid)
        if stat is not None:
            found[pid] = stat
    return found


def environ(pid: int) -> dict[str, str] | None:
    """A process's environment; None when it cannot be read (gone, another user's, a zombie
    or kernel thread has an empty one: {})."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    out: dict[str, str] = {}
    for item in raw.split(b"\0"):
        key, eq, value = item.partition(b"=")
        if eq:
            out[key.decode(errors="replace")] = value.decode(errors="replace")
    return out


def real_uid(pid: int) -> int | None:
    """The real user id a process runs as; None when it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids from one pass over /proc."""
    kids: dict[int, list[int]] = {}
    for pid, stat in scan().items():
        kids.setdefault(stat.ppid, []).append(pid)
    return kids


def descendants(pid: int, kids: dict[int, list[int]]) -> list[int]:
    """`pid`'s descendants, from a map made by `children_map`."""
    found: list[int] = []
    stack = list(kids.get(pid, ()))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(kids.get(child, ()))
    return found


def _children(pid: int) -> list[int]:
    """Children of every thread of `pid` (a child forked by a thread is listed under it)."""
    found: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                found.extend(int(x) for x in fh.read().split())
        except OSError:
            continue
    return found


def trees(roots: Iterable[int]) -> dict[int, list[int]]:
    """Each root with its descendants: root first. Roots that are gone map to []."""
    roots = list(roots)
    out: dict[int, list[int]] = {}
    if not _HAS_CHILDREN:
        kids = children_map()
        for root in roots:
            alive = os.path.exists(f"/proc/{root}")
            out[root] = [root, *descendants(root, kids)] if alive else []
        return out
    for root in roots:
        if not os.path.exists(f"/proc/{root}"):
            out[root] = []
            continue
        members = [root]
        stack = _children(root)
        while stack:
            child = stack.pop()
            members.append(child)
            stack.extend(_children(child))
        out[root] = members
    return out


def open_fds(pid: int) -> int | None:
    """How many file descriptors `pid` holds; None when they cannot be read."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
