"""Host and per-instance sampling with psutil, on real processes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from gridkeeper.monitor.collect import HostSampler, ProcessSampler, mountpoint
from gridkeeper.monitor.samples import Sample
from tests.support import READ_STDIN_TO_EOF, end_child, wait_for

# A process that only stays alive to be sampled: it blocks on its stdin pipe, idle, until the
# test closes the pipe (or dies, which closes it too).
SLEEPER = [sys.executable, "-c", READ_STDIN_TO_EOF]
MIB = 1 << 20

# One level of an instance's process tree: holds 16 MiB, 2 extra threads and 3 extra files,
# starts the next level (argv[2] levels below it), prints every pid below and including itself on
# one line, then waits for its kid to end and for EOF on the stdin pipe all levels share (the
# test closes it). With argv[1] == "busy" the deepest level spins instead of waiting.
TREE = """
import os, subprocess, sys, threading
busy, depth = sys.argv[1] == "busy", int(sys.argv[2])
blob = b"x" * (16 << 20)
for _ in range(2):
    threading.Thread(target=threading.Event().wait, daemon=True).start()
files = [open(os.devnull) for _ in range(3)]
pids = [str(os.getpid())]
kid = None
if depth > 0:
    kid = subprocess.Popen(
        [sys.executable, __file__, sys.argv[1], str(depth - 1)], stdout=subprocess.PIPE
    )
    pids += kid.stdout.readline().decode().split()
print(" ".join(pids), flush=True)
if kid is not None:
    kid.wait()  # reaps a killed kid, so it does not linger as a zombie in the tree
elif busy:
    while True:
        pass
sys.stdin.buffer.read()
"""


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "GRIDKEEPER_INSTANCE": "bot_a"}
    proc = subprocess.Popen(SLEEPER, env=env, stdin=subprocess.PIPE)
    yield proc
    end_child(proc)


def test_host_sample_names_are_ours_in_base_units(tmp_path: Path) -> None:
    """One host sample covers CPU, load, memory, swap, disk of the given paths and network, all
    named gridkeeper_host_* (none clashes with node_exporter) with ratios in 0-1."""
    samples = HostSampler([tmp_path]).sample()
    names = {s.name for s in samples}
    for expected in (
        "gridkeeper_host_cpu_used_ratio",
        "gridkeeper_host_cpu_seconds_total",
        "gridkeeper_host_load1",
        "gridkeeper_host_memory_available_bytes",
        "gridkeeper_host_swap_total_bytes",
        "gridkeeper_host_filesystem_avail_bytes",
        "gridkeeper_host_filesystem_used_ratio",
        "gridkeeper_host_network_receive_bytes_total",
    ):
        assert expected in names
    assert all(n.startswith("gridkeeper_host_") for n in names)
    assert not any("percent" in n for n in names)
    ratios = [s.value for s in samples if s.name.endswith("_ratio")]
    assert ratios and all(0.0 <= v <= 1.0 for v in ratios)
    modes = {s.label("mode") for s in samples if s.name == "gridkeeper_host_cpu_seconds_total"}
    assert {"user", "system", "idle"} <= modes


def test_mountpoint_of_missing_path_is_its_nearest_existing_mount(tmp_path: Path) -> None:
    """A log dir that does not exist yet still maps to a filesystem."""
    assert mountpoint(tmp_path / "not" / "yet") == mountpoint(tmp_path)


def test_instance_samples_for_our_process(child: subprocess.Popen[bytes]) -> None:
    """A running instance reports up, restarts, RSS, threads and open fds of its own pid."""
    status = [{"name": "bot_a", "state": "running", "pid": child.pid, "restarts": 2}]
    samples = {s.name: s for s in ProcessSampler().sample(status)}
    assert samples["gridkeeper_instance_up"].value == 1
    assert samples["gridkeeper_instance_restarts_total"].value == 2
    assert samples["gridkeeper_instance_resident_memory_bytes"].value > 0
    assert samples["gridkeeper_instance_threads"].value >= 1
    assert samples["gridkeeper_instance_open_fds"].value >= 1
    assert samples["gridkeeper_instance_up"].label("name") == "bot_a"


def test_process_tagged_for_another_instance_is_not_sampled(
    child: subprocess.Popen[bytes],
) -> None:
    """A pid whose GRIDKEEPER_INSTANCE names someone else is not ours: no process metrics."""
    status = [{"name": "bot_b", "state": "running", "pid": child.pid, "restarts": 0}]
    names = {s.name for s in ProcessSampler().sample(status)}
    assert "gridkeeper_instance_resident_memory_bytes" not in names
    assert "gridkeeper_instance_up" in names


def test_stopped_instance_is_down_without_process_metrics() -> None:
    """A stopped instance: up 0, not failed (stopped on purpose), no pid sampled; one in
    backoff is failed."""
    status = [
        {"name": "c", "state": "stopped", "pid": None, "restarts": 0},
        {"name": "d", "state": "backoff", "pid": None, "restarts": 3},
    ]
    samples = ProcessSampler().sample(status)
    assert [(s.label("name"), s.name, s.value) for s in samples] == [
        ("c", "gridkeeper_instance_up", 0.0),
        ("c", "gridkeeper_instance_restarts_total", 0.0),
        ("c", "gridkeeper_instance_failed", 0.0),
        ("d", "gridkeeper_instance_up", 0.0),
        ("d", "gridkeeper_instance_restarts_total", 3.0),
        ("d", "gridkeeper_instance_failed", 1.0),
    ]


def _poll(fn: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    wait_for(fn, timeout, what)


def _start_tree(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[bytes], list[int]]:
    """An instance of three processes (main, child, grandchild) tagged `tree`."""
    script = tmp_path / "tree.py"
    script.write_text(TREE)
    env = {**os.environ, "GRIDKEEPER_INSTANCE": "tree"}
    top = subprocess.Popen(
        [sys.executable, str(script), mode, "2"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert top.stdout is not None
    pids = [int(p) for p in top.stdout.readline().split()]
    assert len(pids) == 3 and pids[0] == top.pid
    return top, pids


def _stop_tree(top: subprocess.Popen[bytes], members: list[psutil.Process]) -> None:
    """Close the pipe the tree waits on (idle levels read EOF and exit), then kill what is left:
    a busy leaf spins. psutil.Process.kill checks the pid still names the process we started."""
    if top.stdin is not None:
        top.stdin.close()
    for proc in reversed(members):
        with contextlib.suppress(psutil.NoSuchProcess):
            if proc.status() != psutil.STATUS_ZOMBIE:
                proc.kill()
    top.wait()
    if top.stdout is not None:
        top.stdout.close()


@pytest.fixture
def idle_tree(tmp_path: Path) -> Iterator[list[int]]:
    top, pids = _start_tree(tmp_path, "idle")
    members = [psutil.Process(pid) for pid in pids]
    yield pids
    _stop_tree(top, members)


@pytest.fixture
def busy_tree(tmp_path: Path) -> Iterator[list[int]]:
    top, pids = _start_tree(tmp_path, "busy")
    members = [psutil.Process(pid) for pid in pids]
    yield pids
    _stop_tree(top, members)


def _instance(sampler: ProcessSampler, pid: int) -> dict[str, float]:
    status = [{"name": "tree", "state": "running", "pid": pid, "restarts": 0}]
    samples: list[Sample] = sampler.sample(status)
    return {s.name.removeprefix("gridkeeper_instance_"): s.value for s in samples}


def test_instance_is_measured_as_its_whole_process_tree(idle_tree: list[int]) -> None:
    """Memory, threads and open files are summed over the main process and all descendants."""
    procs = [psutil.Process(pid) for pid in idle_tree]
    got = _instance(ProcessSampler(), idle_tree[0])
    assert got["processes"] == 3
    assert got["threads"] == sum(p.num_threads() for p in procs)
    assert got["threads"] >= 9  # each level: main thread + 2
    assert got["open_fds"] == sum(p.num_fds() for p in procs)
    # Each level holds 16 MiB; the main process alone would be well under 48 MiB.
    assert got["resident_memory_bytes"] >= 48 * MIB
    assert got["resident_memory_bytes"] > procs[0].memory_info().rss + 32 * MIB


def test_busy_grandchild_shows_in_cpu_seconds(busy_tree: list[int]) -> None:
    """CPU is a counter of seconds summed over the tree, so a spinning grandchild shows, and
    the counter does not go down when that grandchild exits (Prometheus would read a drop as
    a counter reset)."""
    sampler = ProcessSampler()
    leaf = psutil.Process(busy_tree[2])
    before = _instance(sampler, busy_tree[0])["cpu_seconds_total"]
    start = sum(leaf.cpu_times()[:2])
    _poll(lambda: sum(leaf.cpu_times()[:2]) - start >= 0.3, what="the grandchild to spin 0.3 s")
    spun = _instance(sampler, busy_tree[0])["cpu_seconds_total"]
    # Whole clock ticks (1/100 s) as floats: 0.44 - 0.14 is 0.2999...; rounding to the tick
    # compares what the kernel counted.
    assert round(spun - before, 2) >= 0.3
    leaf.kill()
    _poll(
        lambda: _instance(sampler, busy_tree[0])["processes"] == 2,
        what="the instance to count two processes",
    )
    assert _instance(sampler, busy_tree[0])["cpu_seconds_total"] >= spun


def test_tree_shrinks_when_a_descendant_exits(idle_tree: list[int]) -> None:
    """A grandchild that exits drops out of the next cycles; the rest is still measured."""
    sampler = ProcessSampler()
    assert _instance(sampler, idle_tree[0])["processes"] == 3
    psutil.Process(idle_tree[2]).kill()
    _poll(
        lambda: _instance(sampler, idle_tree[0])["processes"] == 2,
        what="the instance to count two processes",
    )
    procs = [psutil.Process(pid) for pid in idle_tree[:2]]
    assert _instance(sampler, idle_tree[0])["threads"] == sum(p.num_threads() for p in procs)
