"""Sweeps on an existing Dask cluster: joblib's Dask backend over `dask.distributed`.

Nothing is distributed by hand: joblib sends each task to the cluster's workers, after the price
path is scattered to them once (`parallel_config(scatter=...)`). The workers must run the same
gridkeeper version (they import `gridkeeper.backtest` to play a combination); they need neither
the data file nor the config files. Needs the optional `cluster` extra (`joblib`,
`distributed`).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from gridkeeper.backtest.data import PricePath

CONNECT_TIMEOUT = "10s"
PROBE_TIMEOUT_S = 5.0
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
    _check_reachable(address)
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    with client, joblib.parallel_config(backend="dask", scatter=[path]):
        try:
            results: list[R] = joblib.Parallel()(joblib.delayed(func)(path, *job) for job in jobs)
        except Exception as exc:  # a worker's failure, raised here: say where it came from
            raise ClusterError(
                f"the sweep failed on the cluster ({type(exc).__name__}: {exc}); do the workers "
                "run the same gridkeeper version with the cluster extra?"
            ) from exc
    return results


def _check_reachable(address: str) -> None:
    """Fail fast, with a plain message, on an address that is malformed or where nothing listens
    (a Client that fails to connect leaves a half-open client that complains at exit)."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme not in ("tcp", "tls"):
            raise ValueError(f"use tcp://HOST:PORT or tls://HOST:PORT, not {scheme}://")
        host, port = parse_host_port(location)
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            pass
    except (OSError, ValueError, TypeError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from exc
