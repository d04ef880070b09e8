"""Fixtures shared with other suites: `ops` (a real keeper, paper exchange and grid bots)."""

from tests.integration.operations.conftest import ops

__all__ = ["ops"]
