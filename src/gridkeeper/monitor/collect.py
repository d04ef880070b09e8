"""Measurements: the host, and the processes of our instances (only the pids the keeper reports).

Sampling only our own processes keeps a cycle cheap (host + 20 processes is about 2 ms of CPU);
scanning every process on the host is what makes other monitors heavy.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from gridkeeper.monitor.samples import Sample, labels

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


class ProcessSampler:
    """Per-instance samples for the processes the keeper reports, verified to be ours."""

    def __init__(self) -> None:
        self._procs: dict[str, psutil.Process] = {}

    def _process(self, name: str, pid: int) -> psutil.Process | None:
        proc = self._procs.get(name)
        if proc is not None and proc.pid == pid and proc.is_running():
            return proc
        try:
            proc = psutil.Process(pid)
            # The keeper tags every instance's environment; a pid reused by a stranger is not
            # ours. Checked once per new process, not every cycle.
            tag = proc.environ().get("GRIDKEEPER_INSTANCE")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self._procs.pop(name, None)
            return None
        if tag is not None and tag != name:
            return None
        proc.cpu_percent(None)  # start its CPU window
        self._procs[name] = proc
        return proc

    def sample(self, statuses: Sequence[Mapping[str, Any]]) -> list[Sample]:
        out: list[Sample] = []
        seen = set()
        for st in statuses:
            name = str(st.get("name", ""))
            seen.add(name)
            lab = labels(name=name)
            state = str(st.get("state", ""))
            out.append(Sample("gridkeeper_instance_up", 1.0 if state == "running" else 0.0, lab))
            out.append(
                Sample("gridkeeper_instance_restarts_total", float(st.get("restarts") or 0), lab)
            )
            pid = st.get("pid")
            if not pid or state not in LIVE_STATES:
                continue
            proc = self._process(name, int(pid))
            if proc is None:
                continue
            try:
                with proc.oneshot():
                    out += [
                        Sample("gridkeeper_instance_cpu_percent", proc.cpu_percent(None), lab),
                        Sample(
                            "gridkeeper_instance_resident_memory_bytes",
                            float(proc.memory_info().rss),
                            lab,
                        ),
                        Sample("gridkeeper_instance_threads", float(proc.num_threads()), lab),
                        Sample("gridkeeper_instance_open_fds", float(proc.num_fds()), lab),
                    ]
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                self._procs.pop(name, None)
        for gone in set(self._procs) - seen:
            del self._procs[gone]
        return out
