"""Measurements: the host, and the process trees of our instances (from the keeper's pids).

Measuring only our own processes keeps a cycle cheap; measuring every process on the host is what
makes other monitors heavy. Finding instances' descendants reads every process's parent pid,
once per cycle for all instances (psutil's per-process `children()` would scan /proc once per
instance); only the members of the trees are measured.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from gridkeeper.monitor.samples import Sample, labels
from gridkeeper.proctree import children_map, descendants

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


ProcKey = tuple[int, float]  # pid + create time: a reused pid is another process


@dataclass
class TreeUsage:
    """What one instance's process tree uses, summed over its live processes."""

    processes: int = 0
    cpu_percent: float = 0.0
    rss: int = 0
    threads: int = 0
    open_fds: int = 0


class ProcessSampler:
    """Per-instance samples for the process trees of the pids the keeper reports.

    An instance is its main process (verified to be ours) and every descendant of it: a bot that
    forks workers or runs a helper is measured whole. psutil.Process objects are kept across
    cycles, keyed by pid and create time, because `cpu_percent` measures the interval since the
    same object's previous call; a process seen for the first time counts 0 % until the next
    cycle. Processes that left the tree are forgotten at the end of each cycle.
    """

    def __init__(self) -> None:
        self._mains: dict[str, psutil.Process] = {}
        self._procs: dict[ProcKey, psutil.Process] = {}

    def _main(self, name: str, pid: int) -> psutil.Process | None:
        proc = self._mains.get(name)
        if proc is not None and proc.pid == pid and proc.is_running():
            return proc
        try:
            proc = psutil.Process(pid)
            # The keeper tags every instance's environment; a pid reused by a stranger is not
            # ours. Checked once per new process, not every cycle.
            tag = proc.environ().get("GRIDKEEPER_INSTANCE")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self._mains.pop(name, None)
            return None
        if tag is not None and tag != name:
            return None
        self._mains[name] = proc
        return proc

    def _cached(self, proc: psutil.Process, seen: set[ProcKey]) -> tuple[psutil.Process, bool]:
        """The object kept from earlier cycles for this process (and False), or `proc` (True)."""
        key = (proc.pid, proc.create_time())
        seen.add(key)
        known = self._procs.get(key)
        if known is not None:
            return known, False
        self._procs[key] = proc
        return proc, True

    def _tree(
        self, main: psutil.Process, seen: set[ProcKey], kids: dict[int, list[int]]
    ) -> TreeUsage | None:
        """Usage of `main` and its descendants; None once `main` itself is gone."""
        if not main.is_running():
            return None
        members = [main]
        for pid in descendants(main.pid, kids):
            try:
                members.append(psutil.Process(pid))
            except psutil.Error:
                continue
        usage = TreeUsage()
        for i, member in enumerate(members):
            try:
                proc, new = self._cached(member, seen)
                with proc.oneshot():
                    # A new object's first call only starts its window: reading it again now
                    # would measure microseconds, so a new process counts 0 % this cycle.
                    cpu = proc.cpu_percent(None)
                    if new:
                        cpu = 0.0
                    rss = proc.memory_info().rss
                    threads = proc.num_threads()
                    fds = proc.num_fds()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                if i == 0:
                    return None
                continue  # a child that exited between the listing and the reading
            usage.processes += 1
            usage.cpu_percent += cpu
            usage.rss += rss
            usage.threads += threads
            usage.open_fds += fds
        return usage

    def sample(self, statuses: Sequence[Mapping[str, Any]]) -> list[Sample]:
        out: list[Sample] = []
        names: set[str] = set()
        seen: set[ProcKey] = set()
        kids: dict[int, list[int]] | None = None
        for st in statuses:
            name = str(st.get("name", ""))
            names.add(name)
            lab = labels(name=name)
            state = str(st.get("state", ""))
            out.append(Sample("gridkeeper_instance_up", 1.0 if state == "running" else 0.0, lab))
            out.append(
                Sample("gridkeeper_instance_restarts_total", float(st.get("restarts") or 0), lab)
            )
            pid = st.get("pid")
            if not pid or state not in LIVE_STATES:
                continue
            main = self._main(name, int(pid))
            if main is None:
                continue
            if kids is None:
                kids = children_map()
            usage = self._tree(main, seen, kids)
            if usage is None:
                self._mains.pop(name, None)
                continue
            out += [
                Sample("gridkeeper_instance_cpu_percent", usage.cpu_percent, lab),
                Sample("gridkeeper_instance_resident_memory_bytes", float(usage.rss), lab),
                Sample("gridkeeper_instance_threads", float(usage.threads), lab),
                Sample("gridkeeper_instance_open_fds", float(usage.open_fds), lab),
                Sample("gridkeeper_instance_processes", float(usage.processes), lab),
            ]
        for gone in set(self._mains) - names:
            del self._mains[gone]
        for key in set(self._procs) - seen:
            del self._procs[key]
        return out
