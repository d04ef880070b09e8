"""gridkeeper: keeps grid-trading bots running and tells the operator when something breaks."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # The version comes from the installed package's metadata (pyproject.toml is its one
    # source); read lazily so `gridkeeper status` does not pay for importlib.metadata.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("gridkeeper")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0+unknown"
    raise AttributeError(f"module 'gridkeeper' has no attribute {name!r}")
