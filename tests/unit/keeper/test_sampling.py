"""The keeper's /proc sampler and the shared proctree reads: parsing, trees, CPU% from ticks."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil

from gridkeeper.keeper.sampling import Sampler, read_trees
from gridkeeper.proctree import (
    Stat,
    children_map,
    descendants,
    environ,
    parse_stat,
    real_uid,
    scan,
    trees,
)
from tests.support import READ_STDIN_TO_EOF, end_child, wait_for


def _line(pid: int, comm: str, ppid: int, utime: int, start: int, rss: int) -> bytes:
    # After comm: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
    # stime cutime cstime priority nice num_threads itrealvalue starttime vsize rss ...
    rest = ["S", ppid, 1, 1, 0, -1, 0, 0, 0, 0, 0, utime, 5, 0, 0, 20, 0, 3, 0, start, 0, rss]
    return f"{pid} ({comm}) {' '.join(str(x) for x in rest)} 0 0\n".encode()


def test_parse_stat_survives_a_comm_with_spaces_and_parentheses() -> None:
    stat = parse_stat(_line(42, "a) (b c", 7, 10, 999, 300))
    assert stat == Stat(state="S", ppid=7, ticks=15, rss_pages=300, threads=3, start=999)
    assert parse_stat(b"garbage") is None


def test_a_tree_sums_its_members_and_counts_cpu_since_the_last_sample() -> None:
    times = iter([100.0, 102.0])
    sampler = Sampler(clock=lambda: next(times))
    ticks = os.sysconf("SC_CLK_TCK")

    def st(t: int, start: int) -> Stat:
        return Stat(state="S", ppid=1, ticks=t, rss_pages=256, threads=1, start=start)

    usage = sampler.sample([10], {10: [(10, st(0, 1)), (11, st(0, 2)), (12, st(0, 3))]})
    assert usage[10].cpu_percent == 0.0  # no window yet
    assert usage[10].rss_mb == 768 * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    # Two seconds later the tree used one second of CPU; pid 12 is now another process (a
    # different start time): its ticks count from its own start, not against the old ones.
    second = {10: [(10, st(ticks // 2, 1)), (11, st(ticks // 2, 2)), (12, st(50 * ticks, 30))]}
    usage = sampler.sample([10], second)
    assert abs(usage[10].cpu_percent - 50.0) < 1.0


def test_real_trees_find_a_grandchild_and_leave_out_the_dead() -> None:
    # A child and grandchild that just stay alive to be found: both block reading the stdin
    # pipe they share (the grandchild inherits it) until the test closes it.
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', {READ_STDIN_TO_EOF!r}])\n"
        f"{READ_STDIN_TO_EOF}\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    grandchildren: list[psutil.Process] = []
    try:
        wait_for(lambda: len(trees([child.pid])[child.pid]) >= 2, 10, "the grandchild")
        found = trees([child.pid, gone.pid])
        assert len(found[child.pid]) == 2 and found[gone.pid] == []
        kids = children_map()
        assert sorted(found[child.pid]) == sorted([child.pid, *descendants(child.pid, kids)])
        assert scan()[child.pid].ppid == os.getpid()
        read = read_trees([child.pid, gone.pid])
        assert list(read) == [child.pid] and read[child.pid][0][1].rss_pages > 0
        grandchildren = [psutil.Process(pid) for pid in found[child.pid] if pid != child.pid]
    finally:
        end_child(child)
        # The grandchild read the same EOF; psutil's wait knows it by pid and start time.
        _, alive = psutil.wait_procs(grandchildren, timeout=10)
        for proc in alive:
            proc.kill()
    assert alive == []


def test_environ_and_uid_of_a_real_process() -> None:
    env = {**os.environ, "GK_TEST_TAG": "a=b c"}
    # An idle process to read: it blocks on its stdin pipe until the test closes it.
    child = subprocess.Popen(
        [sys.executable, "-c", READ_STDIN_TO_EOF], env=env, stdin=subprocess.PIPE
    )
    try:
        # Until it has exec'd, the child still shows our own environment.
        found = wait_for(lambda: (environ(child.pid) or {}).get("GK_TEST_TAG"), 10, "the exec")
        assert found == "a=b c"
        assert real_uid(child.pid) == os.getuid()
    finally:
        end_child(child)
    assert environ(child.pid) is None and real_uid(child.pid) is None
