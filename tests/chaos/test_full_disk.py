"""Fault 1: a full disk must not wedge the keeper. Signals and process control never depend on
a successful write; the keeper reports `state_store_degraded` and catches up when space
returns. The home is a small tmpfs (these tests run as root, as on CI)."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from gridkeeper.keeper.client import KeeperClient
from tests.chaos.conftest import Project, kill_everything
from tests.support import wait_for


def fill(folder: Path) -> Path:
    """Write until the file system is full; the filler file."""
    filler = folder / "filler"
    chunk = b"\0" * (1 << 16)
    with filler.open("wb", buffering=0) as out:
        while True:
            try:
                out.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    # Small writes may still find a partial block: take those too.
    with filler.open("ab", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 512)
    return filler


@pytest.fixture
def tmpfs_home(project: Project) -> Iterator[Project]:
    assert os.geteuid() == 0, "the full-disk scenario mounts a tmpfs (run as root, as CI does)"
    project.home.mkdir(parents=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(project.home)],
        check=True,
    )
    try:
        yield project
    finally:
        (project.home / "filler").unlink(missing_ok=True)
        with contextlib.suppress(Exception):
            project.gk("shutdown", timeout=30)
        kill_everything(project.home)
        subprocess.run(["umount", "-l", str(project.home)], check=False)


def row(project: Project, name: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = KeeperClient(project.home).request("status", names=[name])
    return rows[0]


def dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_stop_and_start_work_on_a_full_disk_and_the_keeper_catches_up(
    tmpfs_home: Project,
) -> None:
    project = tmpfs_home
    config = project.instance("sleeper")
    project.gk("start", "-d", "--config", str(config), check=True)
    first = row(project, "sleeper")["pid"]
    filler = fill(project.home)

    # Process control acts first; the records it cannot write wait in memory.
    stop = project.gk("stop", "sleeper", timeout=30)
    assert stop.returncode == 0, stop.stderr
    assert "sleeper stopped" in stop.stdout
    assert dead(first)
    status = project.gk("status", timeout=30)
    assert "state_store_degraded" in status.stderr
    assert row(project, "sleeper")["state_store_degraded"] is True

    start = project.gk("start", "-d", "sleeper", timeout=30)
    assert start.returncode == 0, (start.stdout, start.stderr)
    second = row(project, "sleeper")["pid"]
    assert second and second != first
    assert project.gk("stop", "sleeper", timeout=30).returncode == 0
    assert dead(second)

    filler.unlink()
    wait_for(lambda: not row(project, "sleeper")["state_store_degraded"], what="catch-up")
    kinds = [
        e["kind"]
        for e in KeeperClient(project.home).request("events", names=["sleeper"], limit=100)
    ]
    assert kinds.count("stopped") >= 2  # written after the fact, in order
    final = project.gk("shutdown", timeout=30)
    assert final.returncode == 0, final.stderr


def test_sigterm_stops_the_keeper_and_its_instances_on_a_full_disk(tmpfs_home: Project) -> None:
    project = tmpfs_home
    config = project.instance("sleeper")
    project.gk("start", "-d", "--config", str(config), check=True)
    bot = row(project, "sleeper")["pid"]
    keeper = project.keeper_pid()
    fill(project.home)
    os.kill(keeper, signal.SIGTERM)
    wait_for(lambda: dead(keeper), timeout=30, what="the keeper to exit")
    assert dead(bot)
