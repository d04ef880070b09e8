"""Sweeps on a Dask cluster: a local cluster of worker processes on 127.0.0.1 gives the same
ranked results as the local process pool, through the library and through the command."""

from __future__ import annotations

import operator
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from distributed import LocalCluster

import gridkeeper.backtest
from gridkeeper.backtest.cluster import ClusterError, run_on_cluster
from gridkeeper.backtest.data import load_prices, parse_time
from gridkeeper.backtest.setup import load_setup
from gridkeeper.backtest.sweep import SweepError, run_sweep
from tests.support import free_port

DATA = Path(gridkeeper.backtest.__file__).parent / "data"
GRID, KLINES = DATA / "sample_grid.json", DATA / "sample_klines.csv"
END_MS = parse_time("2024-05-01 12:00")  # the sample's first 12 hours
# 2 x 3 combinations; grid_num 2000 is refused (a step below twice the fee): an error row.
SWEEPS = [("grid_num", ["10", "20", "2000"]), ("grid_lower_price", ["130", "134"])]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # The scheduler's HTTP server (health routes) starts even without a dashboard, on
        # 8787 by default: a random free port keeps two runs (or anything else) from meeting.
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    ) as local:
        yield local


def test_sweep_on_a_local_cluster_matches_the_local_run(cluster: LocalCluster) -> None:
    path = load_prices(KLINES, symbol="SOL_USDC")
    setup = load_setup(GRID, None, first_price=path.prices[0])
    remote = run_sweep(setup, KLINES, SWEEPS, end_ms=END_MS, cluster=cluster.scheduler_address)
    local = run_sweep(setup, KLINES, SWEEPS, end_ms=END_MS, workers=1)
    assert remote == local
    assert len(remote) == 6
    assert [("error" in r) for r in remote] == [False] * 4 + [True] * 2
    assert all(r["summary"]["fills"] > 0 for r in remote[:4])
    # The combinations really ran on the cluster's workers (joblib's Dask batches).
    assert any("run_combo" in prefix for prefix in cluster.scheduler.task_prefixes)


def test_a_failure_on_the_workers_is_a_clear_error(cluster: LocalCluster) -> None:
    path = load_prices(KLINES, symbol="SOL_USDC")
    # PricePath / 0 raises TypeError on the worker (a stdlib function: the workers import it).
    with pytest.raises(ClusterError, match="the sweep failed on the cluster \\(TypeError"):
        run_on_cluster(cluster.scheduler_address, path, operator.truediv, [(0,)])


def _command(*extra: str) -> subprocess.CompletedProcess[str]:
    args = ["--config", str(GRID), "--data", str(KLINES), "--to", "2024-05-01 12:00"]
    for key, values in SWEEPS:
        args += ["--sweep", f"{key}={','.join(values)}"]
    return subprocess.run(
        [sys.executable, "-m", "gridkeeper", "backtest", *args, "--json", *extra],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_command_sweep_with_cluster_address(cluster: LocalCluster) -> None:
    remote = _command("--cluster", cluster.scheduler_address)
    assert remote.returncode == 0, remote.stderr
    local = _command("--workers", "1")
    assert local.returncode == 0, local.stderr
    rows: list[dict[str, Any]] = orjson.loads(remote.stdout)["results"]
    assert rows == orjson.loads(local.stdout)["results"]
    assert len(rows) == 6


def test_unreachable_scheduler_is_a_clear_error() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    path = load_prices(KLINES, symbol="SOL_USDC")
    setup = load_setup(GRID, None, first_price=path.prices[0])
    with pytest.raises(SweepError, match="cannot reach the Dask scheduler"):
        run_sweep(setup, KLINES, SWEEPS, end_ms=END_MS, cluster=address)
    with pytest.raises(SweepError, match="use tcp://HOST:PORT"):
        run_sweep(setup, KLINES, SWEEPS, end_ms=END_MS, cluster="http://127.0.0.1:8786")
    done = _command("--cluster", address)
    assert done.returncode == 1
    assert "cannot reach the Dask scheduler" in done.stderr
    assert "Traceback" not in done.stderr
