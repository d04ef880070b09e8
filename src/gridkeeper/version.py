"""The installed package's version, read the way importlib.metadata finds it (the first
`gridkeeper-*.dist-info` on sys.path) without importing importlib.metadata, which pulls in
email, zipfile and csv: about 3 MiB in the keeper daemon, whose `ping` answers with it."""

from __future__ import annotations

import functools
import os
import sys


@functools.cache
def version() -> str:
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))  # noqa: PTH208 - no pathlib in the keeper's hot imports
        except OSError:
            continue
        for name in names:
            if name.startswith("gridkeeper-") and name.endswith(".dist-info"):
                found = _from_metadata(os.path.join(entry or ".", name, "METADATA"))  # noqa: PTH118
                if found:
                    return found
    import gridkeeper

    return gridkeeper.__version__  # importlib.metadata, or "0+unknown" from a bare checkout


def _from_metadata(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:  # noqa: PTH123
            for line in fh:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
                if not line.strip():
                    return None  # the headers ended
    except OSError:
        return None
    return None
