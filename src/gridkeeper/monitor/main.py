"""Running the monitor in the foreground: what `gridkeeper monitor` (and the keeper's built-in
monitor instance) runs. Lean on purpose (issue 14: monitor <= 35 MiB RSS): no click, no pydantic
(the settings come from a resolver process, settings_view.py), so the long-lived process holds
only what watching and alerting need. cli/fast.py calls it directly; the click command too.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from gridkeeper.monitor.settings_view import MonitorConfig, load


@dataclass(frozen=True)
class Prepared:
    home: Path
    log_dir: Path
    config: MonitorConfig


def prepare(home: Path, settings_path: Path | None) -> Prepared:
    """Read the settings (ConfigError when they are bad); nothing runs yet."""
    config = load(settings_path)
    log_dir = Path(config.log_dir).expanduser()
    if not log_dir.is_absolute():
        log_dir = home / log_dir
    return Prepared(home, log_dir, config)


def serve(ready: Prepared) -> int:
    """Run until SIGTERM/SIGINT. Raises what MonitorService raises (another monitor holds the
    home's lock: exit 1 naming it)."""
    from gridkeeper.logs.logger import configure_logging
    from gridkeeper.monitor.service import MonitorService

    # No structlog: nothing in the monitor uses it, and it pulls in rich and pygments (~7 MiB).
    configure_logging(redact=set(ready.config.secrets), route_structlog=False)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()  # only flag it: the loop notices within half a second and stops cleanly

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    service = MonitorService(
        ready.home,
        ready.config.monitor,
        ready.config.notifications,
        log_dir=ready.log_dir,
        settings_path=ready.config.settings_path,
    )
    service.run(stop)
    return 0
