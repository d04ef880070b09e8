"""Measurements: the host, and the process trees of our instances (from the keeper's pids).

Measuring only our own processes keeps a cycle cheap; measuring every process on the host is what
makes other monitors heavy. Finding instances' descendants reads every process's parent pid,
once per cycle for all instances (psutil's per-process `children()` would scan /proc once per
instance); only the members of the trees are measured.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from gridkeeper.monitor.samples import Sample, labels
from gridkeeper.proctree import children_map, descendants

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


ProcKey = tuple[int, float]  # pid + create time: a reused pid is another process


@dataclass
class TreeUsage:
    """What one instance's process tree uses, summed over its live processes."""

    processes: int = 0
    cpu_seconds: dict[ProcKey, float] = field(default_factory=dict)  # per live member
    rss: int = 0
    threads: int = 0
    open_fds: int = 0


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
    forks workers or runs a helper is measured whole. psutil.Process objects are kept across
    cycles, keyed by pid and create time, so a process is only looked up once; processes that
    left the tree are forgotten at the end of each cycle. CPU is reported as cumulative seconds
    (see CpuCounter), which Prometheus turns into a rate over any window.
    """

    def __init__(self) -> None:
        self._mains: dict[str, psutil.Process] = {}
        self._procs: dict[ProcKey, psutil.Process] = {}
        self._cpu: dict[str, CpuCounter] = {}

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

    def _cached(self, proc: psutil.Process, seen: set[ProcKey]) -> tuple[psutil.Process, ProcKey]:
        """The object kept from earlier cycles for this process (or `proc`), and its key."""
        key = (proc.pid, proc.create_time())
        seen.add(key)
        known = self._procs.get(key)
        if known is not None:
            return known, key
        self._procs[key] = proc
        return proc, key

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
                proc, key = self._cached(member, seen)
                with proc.oneshot():
                    times = proc.cpu_times()
                    rss = proc.memory_info().rss
                    threads = proc.num_threads()
                    fds = proc.num_fds()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                if i == 0:
                    return None
                continue  # a child that exited between the listing and the reading
            usage.processes += 1
            usage.cpu_seconds[key] = times.user + times.system
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
            failed = 1.0 if state in FAILED_STATES else 0.0
            out.append(Sample("gridkeeper_instance_failed", failed, lab))
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
        for key in set(self._procs) - seen:
            del self._procs[key]
        return out
