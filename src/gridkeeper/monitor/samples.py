"""A measurement and the catalogue of metric names the monitor records and exports.

Names follow Prometheus conventions: host metrics use node-exporter's names where one exists,
ours start with `gridkeeper_`. The label that names an instance is `name` (Prometheus reserves
`instance` for the scrape target).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricType = Literal["gauge", "counter"]


@dataclass(frozen=True)
class Sample:
    """One value of one metric at one time."""

    name: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()
    ts: float = 0.0

    def label(self, key: str, default: str = "") -> str:
        for k, v in self.labels:
            if k == key:
                return v
        return default


def labels(**kv: str) -> tuple[tuple[str, str], ...]:
    """Labels in a canonical (sorted) order so equal label sets compare equal."""
    return tuple(sorted(kv.items()))


# name -> (type, help)
METRICS: dict[str, tuple[MetricType, str]] = {
    "gridkeeper_host_cpu_percent": ("gauge", "Host CPU use over the last interval, percent."),
    "node_load1": ("gauge", "1-minute load average."),
    "node_load5": ("gauge", "5-minute load average."),
    "node_load15": ("gauge", "15-minute load average."),
    "node_memory_MemTotal_bytes": ("gauge", "Total memory."),
    "node_memory_MemAvailable_bytes": ("gauge", "Memory available to new programs."),
    "gridkeeper_host_memory_used_percent": ("gauge", "Memory in use, percent."),
    "node_memory_SwapTotal_bytes": ("gauge", "Total swap."),
    "node_memory_SwapFree_bytes": ("gauge", "Free swap."),
    "node_filesystem_size_bytes": ("gauge", "Filesystem size."),
    "node_filesystem_avail_bytes": ("gauge", "Filesystem space available to users."),
    "gridkeeper_filesystem_used_percent": ("gauge", "Filesystem used, percent."),
    "node_network_receive_bytes_total": ("counter", "Bytes received on all interfaces."),
    "node_network_transmit_bytes_total": ("counter", "Bytes sent on all interfaces."),
    "gridkeeper_instance_up": ("gauge", "1 when the instance is running."),
    "gridkeeper_instance_restarts_total": ("counter", "Restarts of the instance by the keeper."),
    "gridkeeper_instance_resident_memory_bytes": (
        "gauge",
        "Resident memory of the instance's processes, summed.",
    ),
    "gridkeeper_instance_cpu_percent": (
        "gauge",
        "CPU use of the instance's processes, percent of one core, summed.",
    ),
    "gridkeeper_instance_threads": ("gauge", "Threads of the instance's processes, summed."),
    "gridkeeper_instance_open_fds": (
        "gauge",
        "Open file descriptors of the instance's processes, summed.",
    ),
    "gridkeeper_instance_processes": (
        "gauge",
        "Processes of the instance: its main process and all descendants.",
    ),
    "gridkeeper_network_target_up": ("gauge", "1 when the network target answered."),
    "gridkeeper_network_target_latency_seconds": ("gauge", "Latency of the last good try."),
    "gridkeeper_keeper_up": ("gauge", "1 when the keeper answers on its socket."),
    "gridkeeper_alerts_firing": ("gauge", "Alerts firing now."),
    "gridkeeper_outbox_pending": ("gauge", "Notifications waiting for delivery, per channel."),
}
