"""A measurement and the catalogue of metric names the monitor records and exports.

Names follow the Prometheus naming guide: every name starts with `gridkeeper_` (none clashes
with node_exporter's `node_*`), values are in base units (`_bytes`, `_seconds`, ratios 0-1 as
`_ratio`, never percent) and counters end in `_total`. The label that names an instance is
`name` (Prometheus reserves `instance` for the scrape target).
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


# name -> (type, help). Counters keep `_total` here; the exporter hands prometheus_client the
# name without it (it appends the suffix itself).
METRICS: dict[str, tuple[MetricType, str]] = {
    # host
    "gridkeeper_host_cpu_used_ratio": (
        "gauge",
        "Host CPU in use over the last monitor interval, 0-1 (the host_cpu rule's input).",
    ),
    "gridkeeper_host_cpu_seconds_total": ("counter", "Host CPU time, all CPUs, by mode."),
    "gridkeeper_host_cpus": ("gauge", "Logical CPUs of the host."),
    "gridkeeper_host_load1": ("gauge", "1-minute load average."),
    "gridkeeper_host_load5": ("gauge", "5-minute load average."),
    "gridkeeper_host_load15": ("gauge", "15-minute load average."),
    "gridkeeper_host_memory_total_bytes": ("gauge", "Total memory."),
    "gridkeeper_host_memory_available_bytes": ("gauge", "Memory available to new programs."),
    "gridkeeper_host_memory_used_ratio": ("gauge", "Memory in use, 0-1."),
    "gridkeeper_host_swap_total_bytes": ("gauge", "Total swap."),
    "gridkeeper_host_swap_free_bytes": ("gauge", "Free swap."),
    "gridkeeper_host_filesystem_size_bytes": ("gauge", "Filesystem size."),
    "gridkeeper_host_filesystem_avail_bytes": ("gauge", "Filesystem space available to users."),
    "gridkeeper_host_filesystem_used_ratio": ("gauge", "Filesystem used, 0-1."),
    "gridkeeper_host_network_receive_bytes_total": (
        "counter",
        "Bytes received on all interfaces.",
    ),
    "gridkeeper_host_network_transmit_bytes_total": ("counter", "Bytes sent on all interfaces."),
    # instances (from the keeper's status and the instances' process trees)
    "gridkeeper_instance_up": ("gauge", "1 when the instance is running."),
    "gridkeeper_instance_restarts_total": ("counter", "Restarts of the instance by the keeper."),
    "gridkeeper_instance_failed": (
        "gauge",
        "1 when the instance is down against its will (backoff, exited, fatal), not stopped.",
    ),
    "gridkeeper_instance_resident_memory_bytes": (
        "gauge",
        "Resident memory of the instance's processes, summed.",
    ),
    "gridkeeper_instance_cpu_seconds_total": (
        "counter",
        "CPU time (user + system) of the instance's processes, summed, including those that "
        "exited while the monitor watched.",
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
    # grids (from each running grid bot's control API)
    "gridkeeper_grid_up": ("gauge", "1 when the grid bot's control API answered this cycle."),
    "gridkeeper_grid_trading": ("gauge", "1 when the grid is trading (not paused or stopped)."),
    "gridkeeper_grid_realized_pnl": ("gauge", "Realized grid profit, in the quote currency."),
    "gridkeeper_grid_unrealized_pnl": ("gauge", "Unrealized PnL at the mark, quote currency."),
    "gridkeeper_grid_total_pnl": (
        "gauge",
        "Total PnL (realized + unrealized - fees + funding), quote currency.",
    ),
    "gridkeeper_grid_position": ("gauge", "Position held, in the base asset (negative: short)."),
    "gridkeeper_grid_open_orders": ("gauge", "Orders resting on the exchange."),
    "gridkeeper_grid_fills_total": ("counter", "Fills the bot applied."),
    "gridkeeper_grid_rejects_total": (
        "counter",
        "Orders the exchange rejected since the bot started.",
    ),
    "gridkeeper_grid_price": ("gauge", "Last price the bot saw (the mark for perps)."),
    "gridkeeper_grid_range_lower": ("gauge", "Lower bound of the grid's range."),
    "gridkeeper_grid_range_upper": ("gauge", "Upper bound of the grid's range."),
    # checks and the monitor itself
    "gridkeeper_network_target_up": ("gauge", "1 when the network target answered."),
    "gridkeeper_network_target_latency_seconds": ("gauge", "Latency of the last good try."),
    "gridkeeper_keeper_up": ("gauge", "1 when the keeper answers on its socket."),
    "gridkeeper_alerts_firing": ("gauge", "Alerts firing now."),
    "gridkeeper_outbox_pending": ("gauge", "Notifications waiting for delivery, per channel."),
}


# Served to Prometheus but not written to monitor.db: per-mode CPU counters and the grids' numbers
# would multiply the rows kept per cycle, and each bot keeps its own trading history.
EXPORT_ONLY = frozenset({"gridkeeper_host_cpu_seconds_total", "gridkeeper_host_cpus"})


def stored(sample: Sample) -> bool:
    """Whether the monitor records `sample` in its history."""
    return sample.name not in EXPORT_ONLY and not sample.name.startswith("gridkeeper_grid_")
