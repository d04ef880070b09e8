"""The monitor: samples the host and our instances, keeps history, raises alerts, notifies.

Public surface: `raise_alert` / `resolve_alert` (custom alerts from a bot or script),
`MonitorService` (the loop `gridkeeper monitor` runs).
"""

from __future__ import annotations

from gridkeeper.monitor.api import raise_alert, resolve_alert

__all__ = ["raise_alert", "resolve_alert"]
