"""SinkConfig: where and how the log sink (logs/sink.py) writes, checked when it is made."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SinkConfig:
    """Where and how the sink writes. See docs/logs.md for each setting."""

    log_dir: Path
    rotate_bytes: int = 10 * 1024 * 1024
    backups: int = 10
    compress: bool = True
    rotate_daily: bool = False
    retention_days: float = 30.0
    max_total_bytes: int = 1024 * 1024 * 1024
    cleanup_interval_s: float = 3600.0
    queue_size: int = 100_000
    redact: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        checks = {
            "rotate_bytes": self.rotate_bytes >= 1,
            "backups": self.backups >= 0,
            "retention_days": self.retention_days > 0,
            "max_total_bytes": self.max_total_bytes >= 0,
            "cleanup_interval_s": self.cleanup_interval_s > 0,
            "queue_size": self.queue_size >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"SinkConfig: out of range: {', '.join(bad)}")
