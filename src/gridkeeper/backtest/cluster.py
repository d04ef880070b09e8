"""Sweeps on an existing Dask cluster: joblib's Dask backend over `dask.distributed`.

Nothing is distributed by hand: joblib sends each task to the cluster's workers, after the price
path is scattered to them once (`parallel_config(scatter=...)`). The workers must run the same
gridkeeper version (they import `gridkeeper.backtest` to play a combination); they need neither
the data file nor the config files. Needs the optional `cluster` extra (`joblib`,
`distributed`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from gridkeeper.backtest.data import PricePath

CONNECT_TIMEOUT = "10s"
R = TypeVar("R")


class ClusterError(Exception):
    """The cluster cannot be used (extra not installed, scheduler unreachable)."""


def run_on_cluster(
    address: str,
    path: PricePath,
    func: Callable[..., R],
    jobs: Sequence[tuple[Any, ...]],
) -> list[R]:
    """`func(path, *job)` for every job on the Dask scheduler at `address`, in `jobs` order."""
    try:
        import joblib
        from distributed import Client
    except ImportError as exc:
        raise ClusterError(
            "--cluster needs the cluster extra: pip install 'gridkeeper[cluster]' "
            f"(missing {exc.name})"
        ) from exc
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    with client, joblib.parallel_config(backend="dask", scatter=[path]):
        results: list[R] = joblib.Parallel()(joblib.delayed(func)(path, *job) for job in jobs)
    return results
