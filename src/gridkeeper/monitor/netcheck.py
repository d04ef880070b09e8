"""Reachability checks: TCP connect or HTTP GET, with a timeout per try and retries.

A target is down only after every try failed (a loopback connect can take a second when a listen
backlog is full). An HTTP answer below 500 counts as up: the host answered.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import httpx

from gridkeeper.monitor.conditions import NetResult
from gridkeeper.monitor.samples import Sample, labels

if TYPE_CHECKING:  # the monitor process never imports pydantic (monitor/settings_view.py)
    from gridkeeper.config.monitor import NetworkTarget


def _try_once(target: NetworkTarget) -> float:
    """Latency of one successful try, in seconds; raises OSError / httpx.HTTPError / ValueError."""
    start = time.perf_counter()
    if target.kind == "tcp":
        assert target.host is not None and target.port is not None  # checked by the model
        with socket.create_connection((target.host, target.port), timeout=target.timeout):
            pass
    else:
        assert target.url is not None
        resp = httpx.get(target.url, timeout=target.timeout, follow_redirects=False)
        if resp.status_code >= 500:
            raise ValueError(f"HTTP {resp.status_code}")
    return time.perf_counter() - start


def check(target: NetworkTarget) -> NetResult:
    error = ""
    tries = target.retries + 1
    for attempt in range(1, tries + 1):
        try:
            latency = _try_once(target)
        except (OSError, httpx.HTTPError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            continue
        return NetResult(target.name, True, latency, attempt)
    return NetResult(target.name, False, None, tries, error)


def check_all(targets: Sequence[NetworkTarget]) -> list[NetResult]:
    """Every target, concurrently, so one slow target does not delay the others."""
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
        return list(pool.map(check, targets))


def result_samples(results: Sequence[NetResult]) -> list[Sample]:
    out = []
    for r in results:
        lab = labels(target=r.name)
        out.append(Sample("gridkeeper_network_target_up", 1.0 if r.up else 0.0, lab))
        if r.latency_s is not None:
            out.append(Sample("gridkeeper_network_target_latency_seconds", r.latency_s, lab))
    return out
