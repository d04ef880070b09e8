"""gridkeeper's log pipeline: the JSON-line logger of our processes and the keeper's log sink.

    configure_logging / get_logger / log_event / add_redactions   our processes' logging
    LogSink + SinkConfig                                          the single writer of log files
    gridkeeper.logs.reader                                        log_path, tail, follow

See docs/logs.md for the files written, the settings and how to read them.
"""

from __future__ import annotations

from gridkeeper.logs.logger import add_redactions, configure_logging, get_logger, log_event
from gridkeeper.logs.sink import LogSink
from gridkeeper.logs.sink_config import SinkConfig

__all__ = [
    "LogSink",
    "SinkConfig",
    "add_redactions",
    "configure_logging",
    "get_logger",
    "log_event",
]
