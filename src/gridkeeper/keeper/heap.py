"""Giving freed heap memory back to the system after the keeper's busy moments.

Starting instances, resolving configs and answering a burst of commands allocate and free many
small objects; glibc keeps the freed arenas mapped, so a daemon that stays idle for weeks would
carry them in its RSS (the footprint issue 14 budgets). A collection followed by
`malloc_trim(0)` returns them. Elsewhere (musl, no glibc) this does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc

_TRIM = None
with contextlib.suppress(OSError, AttributeError):
    _TRIM = ctypes.CDLL(None).malloc_trim


def trim() -> None:
    gc.collect()
    if _TRIM is not None:
        _TRIM(0)
