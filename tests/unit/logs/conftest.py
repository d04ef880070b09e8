"""Fixtures for the log pipeline tests."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gridkeeper.logs import LogSink, SinkConfig, configure_logging


@pytest.fixture
def make_sink(tmp_path: Path) -> Iterator[Callable[..., LogSink]]:
    """Builds sinks under tmp_path/logs and closes every one at the end of the test."""
    sinks: list[LogSink] = []

    def build(**options: object) -> LogSink:
        config = SinkConfig(log_dir=tmp_path / "logs", **options)  # type: ignore[arg-type]
        sink = LogSink(config)
        sinks.append(sink)
        return sink

    yield build
    for sink in sinks:
        sink.close(timeout=10)


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    """configure_logging changes the root logger; put its handlers and level back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    # Later tests in this worker must not write into a dead StringIO or a closed sink.
    configure_logging("info", stream=sys.stderr)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
