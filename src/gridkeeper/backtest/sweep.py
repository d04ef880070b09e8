"""Parameter sweeps: every combination of the given values, run in parallel, ranked by a metric.

`--sweep 'grid_num=10:60:5'` (start:stop:step, stop included) or `--sweep 'grid_lower_price=120,
125,130'` (a list). Combinations run in a `concurrent.futures.ProcessPoolExecutor` over all
cores by default; each worker reads the price data once (the pool's initializer). A combination
the grid refuses (e.g. a step that does not cover twice the fee) is listed with its error.

`cluster=ADDRESS` runs the same combinations on an existing Dask cluster instead (joblib's Dask
backend over `dask.distributed`, the optional `cluster` extra): the prices are read here and
scattered to the workers once; the ranking is the same as a local run's.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from gridkeeper.backtest.cluster import ClusterError, run_on_cluster
from gridkeeper.backtest.data import PricePath, load_prices
from gridkeeper.backtest.model import BacktestError, SimSetup
from gridkeeper.backtest.sim import run_backtest
from gridkeeper.config.strategy import GridStrategyConfig

__all__ = ["METRICS", "SweepError", "combinations", "parse_sweep", "run_combo", "run_sweep"]

# Metric -> True when larger is better.
METRICS = {
    "total_pnl": True,
    "realized": True,
    "return_on_capital": True,
    "pnl_per_day": True,
    "round_trips": True,
    "time_in_range": True,
    "max_drawdown": False,
    "fees": False,
}


class SweepError(Exception):
    """A --sweep argument that cannot be read."""


def parse_sweep(text: str) -> tuple[str, list[str]]:
    """`key=a:b:step` or `key=v1,v2,...` -> (key, values as strings)."""
    key, sep, spec = text.partition("=")
    key = key.strip()
    if not sep or not key or not spec.strip():
        raise SweepError(f"--sweep {text!r}: expected KEY=START:STOP:STEP or KEY=V1,V2,...")
    if key not in GridStrategyConfig.model_fields:
        raise SweepError(f"--sweep {text!r}: {key} is not a strategy_config key")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise SweepError(f"--sweep {text!r}: a range is START:STOP:STEP")
        try:
            start, stop, step = (Decimal(p) for p in parts)
        except InvalidOperation as exc:
            raise SweepError(f"--sweep {text!r}: not numbers") from exc
        if step <= 0 or stop < start:
            raise SweepError(f"--sweep {text!r}: STEP must be > 0 and STOP >= START")
        values = []
        value = start
        while value <= stop:
            values.append(format(value, "f"))
            value += step
        return key, values
    return key, [v.strip() for v in spec.split(",") if v.strip()]


def combinations(sweeps: list[tuple[str, list[str]]]) -> list[dict[str, str]]:
    keys = [k for k, _ in sweeps]
    return [
        dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _, v in sweeps))
    ]


@dataclass(frozen=True)
class _Job:
    setup: SimSetup
    data: Path
    symbol: str
    interval_s: float
    start_ms: int | None
    end_ms: int | None


_PATH: PricePath | None = None


def _load(job: _Job) -> PricePath:
    return load_prices(job.data, symbol=job.symbol, interval_s=job.interval_s).between(
        job.start_ms, job.end_ms
    )


def _init(job: _Job) -> None:
    global _PATH
    _PATH = _load(job)


def _run_one(args: tuple[SimSetup, dict[str, str]]) -> dict[str, Any]:
    assert _PATH is not None
    return run_combo(_PATH, *args)


def run_combo(path: PricePath, base: SimSetup, params: dict[str, str]) -> dict[str, Any]:
    """One combination: its summary, or the error the grid refused it with."""
    row: dict[str, Any] = {"params": params}
    try:
        merged = base.strategy.model_dump() | params
        config = GridStrategyConfig.model_validate(merged)
        result = run_backtest(replace(base, strategy=config), path)
    except (BacktestError, ValueError) as exc:
        row["error"] = str(exc).splitlines()[0]
        return row
    row["summary"] = result.summary
    return row


def _key(metric: str) -> Any:
    bigger = METRICS[metric]

    def key(row: dict[str, Any]) -> tuple[int, Decimal]:
        if "error" in row or row["summary"].get(metric) is None:
            return (1, Decimal(0))
        value = Decimal(str(row["summary"][metric]))
        return (0, -value if bigger else value)

    return key


def run_sweep(
    setup: SimSetup,
    data: Path,
    sweeps: list[tuple[str, list[str]]],
    *,
    metric: str = "total_pnl",
    workers: int | None = None,
    interval_s: float = 1.0,
    start_ms: int | None = None,
    end_ms: int | None = None,
    cluster: str | None = None,
) -> list[dict[str, Any]]:
    """Every combination's summary (or error), best first by `metric`; `cluster`: the address
    of a Dask scheduler to run them on (`workers` is then the cluster's business)."""
    if metric not in METRICS:
        raise SweepError(f"--rank {metric!r}: one of {', '.join(METRICS)}")
    combos = combinations(sweeps)
    job = _Job(setup, data, setup.symbol, interval_s, start_ms, end_ms)
    if cluster is not None:
        try:
            rows = run_on_cluster(cluster, _load(job), run_combo, [(setup, c) for c in combos])
        except ClusterError as exc:
            raise SweepError(str(exc)) from exc
        return sorted(rows, key=_key(metric))
    count = workers or os.cpu_count() or 1
    if count <= 1 or len(combos) <= 1:
        _init(job)
        rows = [_run_one((setup, c)) for c in combos]
    else:
        with ProcessPoolExecutor(max_workers=count, initializer=_init, initargs=(job,)) as pool:
            rows = list(pool.map(_run_one, [(setup, c) for c in combos], chunksize=1))
    return sorted(rows, key=_key(metric))
