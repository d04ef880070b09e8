"""gridkeeper: keeps grid-trading bots running and tells the operator when something breaks."""

from __future__ import annotations

import sys

# httpx's package imports its command-line tool (`httpx._main`), which imports click, rich and
# pygments whenever they are installed (they are: our CLI uses them): ~10 MiB and ~0.2 s in
# every program that only wants the HTTP client (monitor, bot, paper exchange). None in
# sys.modules makes that import fail, which httpx expects and handles; we never run `httpx`'s CLI.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def __getattr__(name: str) -> str:
    # The version comes from the installed package's metadata (pyproject.toml is its one
    # source); read lazily so `gridkeeper status` does not pay for importlib.metadata.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("gridkeeper")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0+unknown"
    raise AttributeError(f"module 'gridkeeper' has no attribute {name!r}")
