"""Host and per-instance sampling with psutil, on real processes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from gridkeeper.monitor.collect import HostSampler, ProcessSampler, mountpoint
from gridkeeper.monitor.samples import Sample
from tests.support import wait_for

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
MIB = 1 << 20

# One level of an instance's process tree: holds 16 MiB, 2 extra threads and 3 extra files,
# starts the next level (argv[2] levels below it), prints every pid below and including itself on
# one line, then waits. With argv[1] == "busy" the deepest level spins instead of waiting.
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
    kid.wait()
elif busy:
    while True:
        pass
threading.Event().wait()
"""


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "GRIDKEEPER_INSTANCE": "bot_a"}
    proc = subprocess.Popen(SLEEPER, env=env)
    yield proc
    proc.kill()
    proc.wait()


def test_host_sample_has_node_style_metrics(tmp_path: Path) -> None:
    """One host sample covers CPU, load, memory, swap, disk of the given paths and network."""
    names = {s.name for s in HostSampler([tmp_path]).sample()}
    for expected in (
        "gridkeeper_host_cpu_percent",
        "node_load1",
        "node_memory_MemAvailable_bytes",
        "node_memory_SwapTotal_bytes",
        "node_filesystem_avail_bytes",
        "gridkeeper_filesystem_used_percent",
        "node_network_receive_bytes_total",
    ):
        assert expected in names


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
    """A stopped instance: up 0, no pid sampled."""
    status = [{"name": "c", "state": "stopped", "pid": None, "restarts": 0}]
    samples = ProcessSampler().sample(status)
    assert [(s.name, s.value) for s in samples] == [
        ("gridkeeper_instance_up", 0.0),
        ("gridkeeper_instance_restarts_total", 0.0),
    ]


def _poll(fn: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    wait_for(fn, timeout, what)


def _start_tree(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[bytes], list[int]]:
    """An instance of three processes (main, child, grandchild) tagged `tree`."""
    script = tmp_path / "tree.py"
    script.write_text(TREE)
    env = {**os.environ, "GRIDKEEPER_INSTANCE": "tree"}
    top = subprocess.Popen(
        [sys.executable, str(script), mode, "2"], env=env, stdout=subprocess.PIPE
    )
    assert top.stdout is not None
    pids = [int(p) for p in top.stdout.readline().split()]
    assert len(pids) == 3 and pids[0] == top.pid
    return top, pids


def _stop_tree(top: subprocess.Popen[bytes], members: list[psutil.Process]) -> None:
    # psutil.Process.kill checks the pid still names the process we started (never a reuse).
    for proc in reversed(members):
        with contextlib.suppress(psutil.NoSuchProcess):
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


def test_busy_grandchild_shows_in_cpu_across_cycles(busy_tree: list[int]) -> None:
    """CPU is measured between cycles on kept objects, so a spinning grandchild shows.

    The first cycle only starts each process's window (0 %). The second covers the time the
    grandchild spent spinning since then, as a share of the wall time between the cycles: what
    psutil says of the same interval (a loaded machine gives the spinner less than a core, so
    the figure is compared with what it really got). Measuring from a fresh start each cycle
    would give a microsecond window: 0 % or thousands.
    """
    sampler = ProcessSampler()
    leaf = psutil.Process(busy_tree[2])
    cpu0, t0 = sum(leaf.cpu_times()[:2]), time.monotonic()
    assert _instance(sampler, busy_tree[0])["cpu_percent"] == 0.0
    _poll(lambda: sum(leaf.cpu_times()[:2]) - cpu0 >= 0.3, what="the grandchild to spin 0.3 s")
    got = _instance(sampler, busy_tree[0])["cpu_percent"]
    cpu1, t1 = sum(leaf.cpu_times()[:2]), time.monotonic()
    expected = 100.0 * (cpu1 - cpu0) / (t1 - t0)
    assert got >= 5.0 and 0.5 * expected <= got <= 1.5 * expected + 5.0


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
