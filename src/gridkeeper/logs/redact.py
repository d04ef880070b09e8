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
    secret that contains another is masked whole. A redactor can `link()` others (the sink links
    its logger's) and then masks their values too, merged into the same longest-first order.
    Adding values is thread-safe; redacting reads immutable tuples and takes no lock.
    """

    __slots__ = ("_linked", "_lock", "_merged", "_own", "_version")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._own: frozenset[str] = frozenset()
        self._linked: tuple[Redactor, ...] = ()
        self._version = 0
        # (versions of self and every linked redactor, merged values longest first)
        self._merged: tuple[tuple[object, ...], tuple[str, ...]] = ((), ())
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
            self._own = self._own | variants
            self._version += 1

    def link(self, other: Redactor) -> None:
        """Also mask everything `other` masks, now and as it grows."""
        with self._lock:
            if other is not self and other not in self._linked:
                self._linked = (*self._linked, other)
                self._version += 1

    def _key(self) -> tuple[object, ...]:
        return (self._version, *(other._key() for other in self._linked))

    def _all(self) -> frozenset[str]:
        values = self._own
        for other in self._linked:
            values = values | other._all()
        return values

    def _values(self) -> tuple[str, ...]:
        key = self._key()
        cached_key, values = self._merged
        if key != cached_key:
            values = tuple(sorted(self._all(), key=len, reverse=True))
            self._merged = (key, values)
        return values

    @property
    def active(self) -> bool:
        """True once there is anything to mask."""
        return bool(self._own) or any(other.active for other in self._linked)

    def __call__(self, text: str) -> str:
        for value in self._values():
            if value in text:
                text = text.replace(value, MASK)
        return text
