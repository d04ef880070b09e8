"""The exception tree shared by every gridkeeper package.

    GridkeeperError            base; carries the process exit code the CLI uses
    ├── UsageError             bad command line (exit 2)
    ├── ConfigError            a config file is wrong: file, JSON path, reason (exit 2)
    ├── KeeperUnavailable      the keeper cannot be reached or started (exit 1)
    └── OperationFailed        an instance failed to start or stop (exit 1)

Packages add their own subclasses (the exchange client's errors, for one) but the CLI only
needs `exit_code` and `str(exc)` to report any of them.
"""

from __future__ import annotations


class GridkeeperError(Exception):
    """Base of every error gridkeeper reports to an operator."""

    exit_code: int = 1


class UsageError(GridkeeperError):
    """The command line asks for something that cannot be done as written."""

    exit_code = 2


class ConfigError(GridkeeperError):
    """A configuration file is wrong. The message names the file, the field and the reason."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, loc: str | None = None) -> None:
        self.file = file
        self.loc = loc
        self.reason = message
        prefix = ""
        if file and loc:
            prefix = f"{file}: {loc}: "
        elif file:
            prefix = f"{file}: "
        elif loc:
            prefix = f"{loc}: "
        super().__init__(prefix + message)


class KeeperUnavailable(GridkeeperError):
    """The keeper daemon could not be reached or started."""

    exit_code = 1


class OperationFailed(GridkeeperError):
    """An instance failed to start or to stop."""

    exit_code = 1
