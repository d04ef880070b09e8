"""RFC 3339 UTC timestamps with milliseconds, cheap enough to call for every record."""

from __future__ import annotations

import time


class TimestampFormatter:
    """Formats epoch seconds as `2024-05-01T12:00:00.123Z`, caching the per-second prefix.

    The cache is one tuple replaced whole, so threads may share a formatter.
    """

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: tuple[int, str] = (-1, "")

    def __call__(self, ts: float) -> str:
        second = int(ts)
        cached_second, prefix = self._cache
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._cache = (second, prefix)
        return f"{prefix}.{int((ts - second) * 1000):03d}Z"


format_ts = TimestampFormatter()
