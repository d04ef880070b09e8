"""Replacing secret values with *** in rendered log text."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import orjson

MASK = "***"


class Redactor:
    """A growing set of secret values, each replaced by `***` wherever it appears.

    Values are matched literally, plain and in their JSON-escaped form (a secret holding a quote
    or a backslash looks different inside a JSON string). Longer values are replaced first so a
    secret that contains another is masked whole. Adding values is thread-safe; redacting reads
    one immutable tuple and takes no lock.
    """

    __slots__ = ("_lock", "_values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()
        self.add(values)

    def add(self, values: Iterable[str]) -> None:
        """Also mask these values from now on. Empty strings are ignored."""
        new = {value for value in values if isinstance(value, str) and value}
        if not new:
            return
        variants = set(new)
        for value in new:
            variants.add(orjson.dumps(value).decode()[1:-1])
        with self._lock:
            merged = set(self._values) | variants
            self._values = tuple(sorted(merged, key=len, reverse=True))

    @property
    def active(self) -> bool:
        """True once there is anything to mask."""
        return bool(self._values)

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text
