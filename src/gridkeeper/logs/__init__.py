"""gridkeeper's log pipeline: the JSON-line logger of our processes and the keeper's log sink.

    configure_logging / get_logger / log_event / add_redactions   our processes' logging
    LogSink + SinkConfig                                          the single writer of log files
    gridkeeper.logs.reader                                        log_path, tail, follow

See docs/logs.md for the files written, the settings and how to read them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gridkeeper.logs.logger import add_redactions, configure_logging, get_logger, log_event

if TYPE_CHECKING:
    from gridkeeper.logs.sink import LogSink
    from gridkeeper.logs.sink_config import SinkConfig


def __getattr__(name: str) -> Any:
    # The sink (writer thread, gzip/bz2/lzma housekeeping: ~3 MiB) is the keeper's alone;
    # a bot or the monitor only logs, so it is imported on first use (issue 14).
    if name == "LogSink":
        from gridkeeper.logs.sink import LogSink

        return LogSink
    if name == "SinkConfig":
        from gridkeeper.logs.sink_config import SinkConfig

        return SinkConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LogSink",
    "SinkConfig",
    "add_redactions",
    "configure_logging",
    "get_logger",
    "log_event",
]
