"""Replacing secret values with *** in rendered log text."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

import orjson

MASK = "***"
_MASK_BYTES = MASK.encode()
# A shorter value is not masked: replacing every "s" or "1234" mangles the log and, by where the
# *** lands, shows the secret anyway. `add()` reports such values so the operator can be told.
MIN_SECRET_LEN = 6


# An encoded piece shorter than this is not masked on its own (it would match by chance).
MIN_ENCODED_LEN = 8


def encodings(value: str) -> set[str]:
    """The forms a secret is commonly logged in besides itself (issue 11, fault 8):
    JSON-escaped, URL-encoded (`%2B`, `+` for space), hex (either case), and base64 (standard
    and URL-safe). For base64 the *core* is masked: the part of the encoding that is the same
    wherever the secret sits in the encoded text (three byte alignments), so the secret inside
    `base64("user:" + secret)` (HTTP Basic auth) is masked too; at most 2 bytes at each end of
    it stay visible, which is not the secret. A core shorter than MIN_ENCODED_LEN is not
    masked, so a secret under 9 bytes is caught inside longer base64 only at its end or at a
    3-byte boundary.
    """
    raw = value.encode("utf-8", "surrogatepass")
    forms = {
        orjson.dumps(value).decode()[1:-1],
        json.dumps(value)[1:-1],  # stdlib escapes non-ASCII as \uXXXX
        quote(value, safe=""),
        quote(value),
        quote_plus(value, safe=""),
        raw.hex(),
        raw.hex().upper(),
    }
    for offset in range(3):
        # whole 3-byte groups encode without padding: the same in any surrounding text
        piece = raw[offset:]
        core = base64.b64encode(piece[: len(piece) // 3 * 3]).decode()
        # the secret at the end of the encoded text (Basic auth): the padded tail, longer than
        # the core, so a short secret there is still masked whole
        tail = base64.b64encode(piece).decode()
        for form in (core, tail):
            forms.add(form)
            forms.add(form.replace("+", "-").replace("/", "_"))
    forms.discard(value)
    return {form for form in forms if len(form) >= MIN_ENCODED_LEN}


class Redactor:
    """A growing set of secret values, each replaced by `***` wherever it appears.

    Values are matched literally, plain and in the encodings of `encodings()` (JSON-escaped,
    URL-encoded, hex, base64). Longer values are replaced first so a
    secret that contains another is masked whole. A redactor can `link()` others (the sink links
    its logger's) and then masks their values too, merged into the same longest-first order.
    Adding values is thread-safe; redacting reads immutable tuples and takes no lock.

    `redact_bytes()` masks UTF-8 text without decoding it (a UTF-8 needle matches a UTF-8
    haystack exactly where the text matches), which lets the sink mask a whole batch of lines at
    once: as long as no secret contains a newline (`crosses_lines` is False), no match can span
    two lines, so masking the joined batch equals masking each line.
    """

    __slots__ = ("_linked", "_lock", "_merged", "_own", "_short", "_version")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._own: frozenset[str] = frozenset()
        self._short: frozenset[str] = frozenset()
        self._linked: tuple[Redactor, ...] = ()
        self._version = 0
        # (versions of self and every linked redactor, merged values longest first, the same
        # as UTF-8, whether any value holds a newline)
        self._merged: tuple[tuple[object, ...], tuple[str, ...], tuple[bytes, ...], bool] = (
            (),
            (),
            (),
            False,
        )
        self.add(values)

    def add(self, values: Iterable[str]) -> int:
        """Also mask these values from now on. Empty strings are ignored.

        Returns how many of them are shorter than MIN_SECRET_LEN characters and so are NOT masked.
        """
        new = {value for value in values if isinstance(value, str) and value}
        short = {value for value in new if len(value) < MIN_SECRET_LEN}
        if short:
            with self._lock:
                self._short = self._short | short
            new -= short
        if not new:
            return len(short)
        variants = set(new)
        for value in new:
            variants |= encodings(value)
        with self._lock:
            self._own = self._own | variants
            self._version += 1
        return len(short)

    @property
    def unmasked(self) -> int:
        """How many distinct values given to `add()` were too short to mask."""
        return len(self._short)

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

    def _current(self) -> tuple[tuple[object, ...], tuple[str, ...], tuple[bytes, ...], bool]:
        merged = self._merged
        key = self._key()
        if key != merged[0]:
            values = tuple(sorted(self._all(), key=len, reverse=True))
            # Longest first by characters; UTF-8 keeps that order for values that contain one
            # another, which is all the order is for.
            encoded = tuple(value.encode("utf-8", "surrogatepass") for value in values)
            merged = (key, values, encoded, any("\n" in value for value in values))
            self._merged = merged
        return merged

    @property
    def active(self) -> bool:
        """True once there is anything to mask."""
        return bool(self._own) or any(other.active for other in self._linked)

    @property
    def crosses_lines(self) -> bool:
        """True when some value holds a newline, so lines must be masked one by one."""
        return self._current()[3]

    def __call__(self, text: str) -> str:
        for value in self._current()[1]:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def redact_bytes(self, data: bytes) -> bytes:
        """`__call__()` for UTF-8 encoded text."""
        for value in self._current()[2]:
            if value in data:
                data = data.replace(value, _MASK_BYTES)
        return data
