"""Measurements: the host, and the process trees of our instances (from the keeper's pids).

Measuring only our own processes keeps a cycle cheap; measuring every process on the host is what
makes other monitors heavy. An instance's descendants are found by walking down from its main
process (gridkeeper.proctree), so nothing else on the host is read; only the members of the
trees are measured, straight from /proc. psutil remains for the host figures.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from gridkeeper.monitor.samples import Sample, labels
from gridkeeper.proctree import CLOCK_TICKS, PAGE_SIZE, Stat, open_fds, read_stat, trees

LIVE_STATES = frozenset({"starting", "running", "stopping"})


def mountpoint(path: Path) -> Path:
    """The mount point of the filesystem holding `path` (the path need not exist yet)."""
    p = path.resolve()
    while not p.exists():
        p = p.parent
    while not os.path.ismount(p):
        p = p.parent
    return p


class HostSampler:
    """CPU, load, memory, swap, the filesystems holding `paths`, network bytes."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.mounts = sorted({mountpoint(p) for p in paths})
        psutil.cpu_percent(None)  # the first call only starts the measurement window

    def sample(self) -> list[Sample]:
        out = [Sample("gridkeeper_host_cpu_percent", psutil.cpu_percent(None))]
        load = os.getloadavg()
        for name, value in zip(("node_load1", "node_load5", "node_load15"), load, strict=True):
            out.append(Sample(name, value))
        vm = psutil.virtual_memory()
        out += [
            Sample("node_memory_MemTotal_bytes", float(vm.total)),
            Sample("node_memory_MemAvailable_bytes", float(vm.available)),
            Sample("gridkeeper_host_memory_used_percent", float(vm.percent)),
        ]
        sw = psutil.swap_memory()
        out += [
            Sample("node_memory_SwapTotal_bytes", float(sw.total)),
            Sample("node_memory_SwapFree_bytes", float(sw.free)),
        ]
        for mount in self.mounts:
            try:
                du = psutil.disk_usage(str(mount))
            except OSError:
                continue
            lab = labels(mountpoint=str(mount))
            out += [
                Sample("node_filesystem_size_bytes", float(du.total), lab),
                Sample("node_filesystem_avail_bytes", float(du.free), lab),
                Sample("gridkeeper_filesystem_used_percent", float(du.percent), lab),
            ]
        net = psutil.net_io_counters()
        if net is not None:
            out += [
                Sample("node_network_receive_bytes_total", float(net.bytes_recv)),
                Sample("node_network_transmit_bytes_total", float(net.bytes_sent)),
            ]
        return out


ProcKey = tuple[int, int]  # pid + start time: a reused pid is another process


@dataclass
class TreeUsage:
    """What one instance's process tree uses, summed over its live processes."""

    processes: int = 0
    cpu_percent: float = 0.0
    rss: int = 0
    threads: int = 0
    open_fds: int = 0


def _instance_tag(pid: int) -> str | None:
    """The GRIDKEEPER_INSTANCE in a process's environment (None: untagged); raises OSError
    when it cannot be read (gone, another user's)."""
    with open(f"/proc/{pid}/environ", "rb") as fh:  # noqa: PTH123 - a hot path: no Path object
        for item in fh.read().split(b"\0"):
            if item.startswith(b"GRIDKEEPER_INSTANCE="):
                return item.split(b"=", 1)[1].decode(errors="replace")
    return None


class ProcessSampler:
    """Per-instance samples for the process trees of the pids the keeper reports.

    An instance is its main process (verified to be ours) and every descendant of it: a bot that
    forks workers or runs a helper is measured whole. Everything is read from /proc directly
    (gridkeeper.proctree: one stat read per member, one listing of its fds), not through
    psutil's per-process objects, which cost several times the reads themselves. CPU% is each
    process's CPU ticks since the previous cycle over the wall time since then, remembered by pid
    and start time; a process seen for the first time counts 0 % until the next cycle.
    Processes that left the tree are forgotten at the end of each cycle.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._mains: dict[str, ProcKey] = {}
        self._ticks: dict[ProcKey, int] = {}
        self._at: float | None = None

    def _main(self, name: str, pid: int) -> Stat | None:
        stat = read_stat(pid)
        if stat is None:
            self._mains.pop(name, None)
            return None
        key = (pid, stat.start)
        if self._mains.get(name) == key:
            return stat
        try:
            # The keeper tags every instance's environment; a pid reused by a stranger is not
            # ours. Checked once per new process, not every cycle.
            tag = _instance_tag(pid)
        except OSError:
            self._mains.pop(name, None)
            return None
        if tag is not None and tag != name:
            return None
        self._mains[name] = key
        return stat

    def _tree(
        self, main: Stat, members: list[int], seen: dict[ProcKey, int], window: float | None
    ) -> TreeUsage | None:
        """Usage of the main process (`members[0]`, its Stat just read) and its descendants;
        None once the main process itself is gone."""
        usage = TreeUsage()
        for i, pid in enumerate(members):
            stat = main if i == 0 else read_stat(pid)
            fds = open_fds(pid) if stat is not None else None
            if stat is None or fds is None:
                if i == 0:
                    return None
                continue  # a child that exited between the listing and the reading
            key = (pid, stat.start)
            seen[key] = stat.ticks
            before = self._ticks.get(key)
            if before is not None and window:
                usage.cpu_percent += 100.0 * (stat.ticks - before) / CLOCK_TICKS / window
            usage.processes += 1
            usage.rss += stat.rss_pages * PAGE_SIZE
            usage.threads += stat.threads
            usage.open_fds += fds
        return usage

    def sample(self, statuses: Sequence[Mapping[str, Any]]) -> list[Sample]:
        out: list[Sample] = []
        names: set[str] = set()
        seen: dict[ProcKey, int] = {}
        now = self._clock()
        window = None if self._at is None else now - self._at
        mains: dict[str, tuple[int, Stat]] = {}
        for st in statuses:
            name = str(st.get("name", ""))
            names.add(name)
            lab = labels(name=name)
            state = str(st.get("state", ""))
            out.append(Sample("gridkeeper_instance_up", 1.0 if state == "running" else 0.0, lab))
            out.append(
                Sample("gridkeeper_instance_restarts_total", float(st.get("restarts") or 0), lab)
            )
            pid = int(st.get("pid") or 0)
            main = self._main(name, pid) if pid and state in LIVE_STATES else None
            if main is not None:
                mains[name] = (pid, main)
        members = trees(pid for pid, _ in mains.values()) if mains else {}
        for name, (pid, main) in mains.items():
            usage = self._tree(main, members.get(pid, []), seen, window)
            if usage is None:
                self._mains.pop(name, None)
                continue
            lab = labels(name=name)
            out += [
                Sample("gridkeeper_instance_cpu_percent", usage.cpu_percent, lab),
                Sample("gridkeeper_instance_resident_memory_bytes", float(usage.rss), lab),
                Sample("gridkeeper_instance_threads", float(usage.threads), lab),
                Sample("gridkeeper_instance_open_fds", float(usage.open_fds), lab),
                Sample("gridkeeper_instance_processes", float(usage.processes), lab),
            ]
        for gone in set(self._mains) - names:
            del self._mains[gone]
        self._ticks = seen
        self._at = now
        return out
