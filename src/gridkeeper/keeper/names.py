"""What the supervisor and the socket API (api.py) share: the reserved instance names and the
error an operation is refused with. A leaf, so that the API can depend on the supervisor without
the supervisor depending on the API (no import cycle)."""

from __future__ import annotations

from gridkeeper.errors import GridkeeperError

LEGACY = "daemon_config"  # the seed's single program described by the settings file
MONITOR = "gridkeeper-monitor"  # the built-in monitor instance (settings: monitor.enabled)
WEB = "gridkeeper-web"  # the built-in dashboard (settings: web.enabled)
BUILTINS = (MONITOR, WEB)  # run by the keeper from the settings, not from an instance file


class ApiError(GridkeeperError):
    """An operation the socket API refuses; `code` goes into the error reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
