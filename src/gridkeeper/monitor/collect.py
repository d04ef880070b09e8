"""Measurements: the host, and the process trees of our instances (from the keeper's pids).

Measuring only our own processes keeps a cycle cheap; measuring every process on the host is what
makes other monitors heavy. An instance's descendants are found by walking down from its main
process (gridkeeper.proctree), so nothing else on the host is read; only the members of the
trees are measured, straight from /proc. psutil remains for the host figures.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from gridkeeper.monitor.samples import Sample, labels
from gridkeeper.proctree import CLOCK_TICKS, PAGE_SIZE, Stat, open_fds, read_stat, trees

LIVE_STATES = frozenset({"starting", "running", "stopping"})
FAILED_STATES = frozenset({"backoff", "exited", "fatal"})  # as the instance_down rule


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

    CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")

    def __init__(self, paths: Iterable[Path]) -> None:
        self.mounts = sorted({mountpoint(p) for p in paths})
        psutil.cpu_percent(None)  # the first call only starts the measurement window

    def sample(self) -> list[Sample]:
        out = [Sample("gridkeeper_host_cpu_used_ratio", psutil.cpu_percent(None) / 100.0)]
        times = psutil.cpu_times()
        for mode in self.CPU_MODES:
            value = getattr(times, mode, None)  # the modes differ between kernels
            if value is not None:
                out.append(
                    Sample("gridkeeper_host_cpu_seconds_total", float(value), labels(mode=mode))
                )
        out.append(Sample("gridkeeper_host_cpus", float(psutil.cpu_count() or 1)))
        load = os.getloadavg()
        names = ("gridkeeper_host_load1", "gridkeeper_host_load5", "gridkeeper_host_load15")
        for name, value in zip(names, load, strict=True):
            out.append(Sample(name, value))
        vm = psutil.virtual_memory()
        out += [
            Sample("gridkeeper_host_memory_total_bytes", float(vm.total)),
            Sample("gridkeeper_host_memory_available_bytes", float(vm.available)),
            Sample("gridkeeper_host_memory_used_ratio", float(vm.percent) / 100.0),
        ]
        sw = psutil.swap_memory()
        out += [
            Sample("gridkeeper_host_swap_total_bytes", float(sw.total)),
            Sample("gridkeeper_host_swap_free_bytes", float(sw.free)),
        ]
        for mount in self.mounts:
            try:
                du = psutil.disk_usage(str(mount))
            except OSError:
                continue
            lab = labels(mountpoint=str(mount))
            out += [
                Sample("gridkeeper_host_filesystem_size_bytes", float(du.total), lab),
                Sample("gridkeeper_host_filesystem_avail_bytes", float(du.free), lab),
                Sample("gridkeeper_host_filesystem_used_ratio", float(du.percent) / 100.0, lab),
            ]
        net = psutil.net_io_counters()
        if net is not None:
            out += [
                Sample("gridkeeper_host_network_receive_bytes_total", float(net.bytes_recv)),
                Sample("gridkeeper_host_network_transmit_bytes_total", float(net.bytes_sent)),
            ]
        return out


ProcKey = tuple[int, int]  # pid + start time: a reused pid is another process


@dataclass
class TreeUsage:
    """What one instance's process tree uses, summed over its live processes."""

    processes: int = 0
    cpu_seconds: dict[ProcKey, float] = field(default_factory=dict)  # per live member
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


class CpuCounter:
    """One instance's CPU seconds as a counter that never goes down while the monitor runs.

    A tree's summed CPU time drops when a member exits (a worker, or the whole bot on a
    restart), which Prometheus would read as a counter reset. So the last time seen of every
    member that left is kept in `base`, and the counter is `base` + the live members' times.
    """

    def __init__(self) -> None:
        self.base = 0.0
        self.last: dict[ProcKey, float] = {}

    def update(self, live: dict[ProcKey, float]) -> float:
        for key, seconds in self.last.items():
            if key not in live:
                self.base += seconds
        # A member's time never decreases; max() guards a key reused after a wraparound.
        self.last = {k: max(v, self.last.get(k, 0.0)) for k, v in live.items()}
        return self.base + sum(self.last.values())


class ProcessSampler:
    """Per-instance samples for the process trees of the pids the keeper reports.

    An instance is its main process (verified to be ours) and every descendant of it: a bot that
    forks workers or runs a helper is measured whole. Everything is read from /proc directly
    (gridkeeper.proctree: one stat read per member, one listing of its fds), not through
    psutil's per-process objects, which cost several times the reads themselves. CPU is reported
    as cumulative seconds (see CpuCounter), which Prometheus turns into a rate over any window.
    Processes that left the tree are forgotten at the end of each cycle.
    """

    def __init__(self) -> None:
        self._mains: dict[str, ProcKey] = {}
        self._cpu: dict[str, CpuCounter] = {}

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

    def _tree(self, main: Stat, members: list[int]) -> TreeUsage | None:
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
            usage.cpu_seconds[key] = stat.ticks / CLOCK_TICKS
            usage.processes += 1
            usage.rss += stat.rss_pages * PAGE_SIZE
            usage.threads += stat.threads
            usage.open_fds += fds
        return usage

    def sample(self, statuses: Sequence[Mapping[str, Any]]) -> list[Sample]:
        out: list[Sample] = []
        names: set[str] = set()
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
            failed = 1.0 if state in FAILED_STATES else 0.0
            out.append(Sample("gridkeeper_instance_failed", failed, lab))
            pid = int(st.get("pid") or 0)
            main = self._main(name, pid) if pid and state in LIVE_STATES else None
            if main is not None:
                mains[name] = (pid, main)
        members = trees(pid for pid, _ in mains.values()) if mains else {}
        for name, (pid, main) in mains.items():
            usage = self._tree(main, members.get(pid, []))
            if usage is None:
                self._mains.pop(name, None)
                continue
            lab = labels(name=name)
            cpu = self._cpu.setdefault(name, CpuCounter()).update(usage.cpu_seconds)
            out += [
                Sample("gridkeeper_instance_cpu_seconds_total", cpu, lab),
                Sample("gridkeeper_instance_resident_memory_bytes", float(usage.rss), lab),
                Sample("gridkeeper_instance_threads", float(usage.threads), lab),
                Sample("gridkeeper_instance_open_fds", float(usage.open_fds), lab),
                Sample("gridkeeper_instance_processes", float(usage.processes), lab),
            ]
        for gone in set(self._mains) - names:
            del self._mains[gone]
        for gone in set(self._cpu) - names:
            del self._cpu[gone]  # removed from the keeper (a reload): its counter ends
        return out
