"""Resource limits: when a sample over a limit counts as a breach. Pure logic.

A breach needs `limit_samples` consecutive samples over the limit, so one spike (a GC pause, a
burst of orders) never restarts a bot; after a breach the count starts again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


class LimitSettings(Protocol):
    @property
    def memory_limit_mb(self) -> float | None: ...
    @property
    def cpu_limit_percent(self) -> float | None: ...
    @property
    def cpu_limit_action(self) -> Literal["event", "restart"]: ...
    @property
    def limit_samples(self) -> int: ...


@dataclass(frozen=True)
class Breach:
    kind: Literal["memory", "cpu"]
    value: float
    limit: float
    restart: bool

    @property
    def message(self) -> str:
        if self.kind == "memory":
            return f"RSS {self.value:.0f} MiB > {self.limit:g} MiB"
        return f"CPU {self.value:.0f}% > {self.limit:g}%"


@dataclass
class LimitTracker:
    memory_over: int = 0
    cpu_over: int = 0

    def reset(self) -> None:
        self.memory_over = self.cpu_over = 0

    def observe(self, settings: LimitSettings, rss_mb: float, cpu_percent: float) -> list[Breach]:
        """Count one sample; the breaches it completes."""
        found: list[Breach] = []
        memory = settings.memory_limit_mb
        if memory is not None and rss_mb > memory:
            self.memory_over += 1
            if self.memory_over >= settings.limit_samples:
                self.memory_over = 0
                found.append(Breach("memory", rss_mb, memory, restart=True))
        else:
            self.memory_over = 0
        cpu = settings.cpu_limit_percent
        if cpu is not None and cpu_percent > cpu:
            self.cpu_over += 1
            if self.cpu_over >= settings.limit_samples:
                self.cpu_over = 0
                found.append(
                    Breach("cpu", cpu_percent, cpu, restart=settings.cpu_limit_action == "restart")
                )
        else:
            self.cpu_over = 0
        return found
