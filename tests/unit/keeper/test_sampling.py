"""The keeper's one-pass /proc sampler: parsing, process trees, CPU% from tick deltas."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gridkeeper.keeper.sampling import Sampler, Stat, parse_stat, scan


def _line(pid: int, comm: str, ppid: int, utime: int, stime: int, start: int, rss: int) -> bytes:
    # Fields after comm: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime priority nice threads itrealvalue starttime vsize rss ...
    rest = [
        "S",
        ppid,
        1,
        1,
        0,
        -1,
        0,
        0,
        0,
        0,
        0,
        utime,
        stime,
        0,
        0,
        20,
        0,
        1,
        0,
        start,
        0,
        rss,
    ]
    return f"{pid} ({comm}) {' '.join(str(x) for x in rest)} 0 0\n".encode()


def test_parse_stat_survives_a_comm_with_spaces_and_parentheses() -> None:
    stat = parse_stat(_line(42, "a) (b c", 7, 10, 5, 999, 300))
    assert stat == Stat(ppid=7, ticks=15, rss_pages=300, start=999)
    assert parse_stat(b"garbage") is None


def test_a_tree_sums_descendants_and_counts_cpu_since_the_last_scan() -> None:
    times = iter([100.0, 102.0])
    sampler = Sampler(clock=lambda: next(times))
    ticks = os.sysconf("SC_CLK_TCK")
    first = {
        10: Stat(ppid=1, ticks=0, rss_pages=256, start=1),
        11: Stat(ppid=10, ticks=0, rss_pages=256, start=2),
        12: Stat(ppid=11, ticks=0, rss_pages=256, start=3),
        20: Stat(ppid=1, ticks=0, rss_pages=256, start=4),  # not ours
    }
    usage = sampler.sample([10, 99], first)
    assert set(usage) == {10}  # a gone root is left out
    assert usage[10].cpu_percent == 0.0  # no window yet
    page_mib = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    assert usage[10].rss_mb == 768 * page_mib
    # Two seconds later the tree used one second of CPU; pid 12 was replaced by a new process
    # with the same pid (a different start time): its ticks count from its own start.
    second = {
        10: Stat(ppid=1, ticks=ticks // 2, rss_pages=256, start=1),
        11: Stat(ppid=10, ticks=ticks // 2, rss_pages=256, start=2),
        12: Stat(ppid=11, ticks=50 * ticks, rss_pages=256, start=30),
    }
    usage = sampler.sample([10], second)
    assert abs(usage[10].cpu_percent - 50.0) < 1.0


def test_scan_sees_a_real_child_and_its_parent() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        stats = scan()
        assert stats[child.pid].ppid == os.getpid()
        assert stats[child.pid].rss_pages > 0
        assert Path(f"/proc/{child.pid}").exists()
    finally:
        child.kill()
        child.wait()
