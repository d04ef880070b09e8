"""Process trees from one scan of /proc, shared by the keeper and the monitor (like paths.py,
a leaf module: it imports nothing of ours)."""

from __future__ import annotations

import psutil


def children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids from one scan of /proc (psutil's `children()` scans /proc once
    per call, which costs one scan per instance when sampling many)."""
    kids: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        ppid = proc.info["ppid"]
        if ppid is not None:
            kids.setdefault(ppid, []).append(proc.pid)
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
