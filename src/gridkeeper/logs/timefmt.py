"""RFC 3339 UTC timestamps with milliseconds, cheap enough to call for every record."""

from __future__ import annotations

import time


class TimestampFormatter:
    """Formats epoch seconds as `2024-05-01T12:00:00.123Z`.

    Caches the last millisecond's text and the last second's prefix (records come in bursts
    that share both). Each cache is one tuple replaced whole, so threads may share a formatter.
    """

    __slots__ = ("_last", "_second")

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")
        self._last: tuple[int, str] = (-1, "")

    def __call__(self, ts: float) -> str:
        millis = int(ts * 1000)
        last_millis, text = self._last
        if millis == last_millis:
            return text
        second = millis // 1000
        cached_second, prefix = self._second
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, prefix)
        text = f"{prefix}.{millis % 1000:03d}Z"
        self._last = (millis, text)
        return text


format_ts = TimestampFormatter()
