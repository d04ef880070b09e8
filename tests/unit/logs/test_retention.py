"""Retention: age, count and total-size limits on rotated files, and foreign files left alone."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from pathlib import Path

from gridkeeper.logs import LogSink
from gridkeeper.logs.retention import RetentionPolicy, RotatedFile, plan
from gridkeeper.logs.rotation import make_stamp
from tests.support import wait_for

DAY = 86400.0
NOW = 1_750_000_000.0


def _rotated(name: str, age_days: float, size: int = 100) -> RotatedFile:
    return RotatedFile(Path(name), name.split(".")[0] + ".log", NOW - age_days * DAY, size, True)


def test_plan_deletes_by_age() -> None:
    """Files rotated longer ago than the retention period go; younger ones stay."""
    files = [_rotated("a.1", 40), _rotated("a.2", 31), _rotated("a.3", 29)]
    doomed = plan(files, RetentionPolicy(30 * DAY, 10**9, 100), NOW)
    assert [f.path.name for f in doomed] == ["a.1", "a.2"]


def test_plan_keeps_backups_per_live_file() -> None:
    """Only the newest `backups` rotated files of each live file are kept."""
    files = [_rotated(f"a.{i}", i) for i in range(1, 6)] + [_rotated("b.1", 9)]
    doomed = plan(files, RetentionPolicy(30 * DAY, 10**9, 2), NOW)
    assert sorted(f.path.name for f in doomed) == ["a.3", "a.4", "a.5"]


def test_plan_caps_total_size_oldest_first() -> None:
    """Beyond the total size cap the oldest files go, whichever live file they came from."""
    files = [_rotated("a.1", 1, 400), _rotated("b.1", 2, 400), _rotated("a.2", 3, 400)]
    doomed = plan(files, RetentionPolicy(30 * DAY, 1000, 100), NOW)
    assert [f.path.name for f in doomed] == ["a.2"]


def _make(directory: Path, name: str, size: int = 1000) -> Path:
    path = directory / name
    with gzip.open(path, "wb") as file:
        file.write(b"x" * size)
    return path


def test_sink_start_applies_retention_and_spares_foreign_files(
    make_sink: Callable[..., LogSink], tmp_path: Path
) -> None:
    """At start, old and over-cap rotated files are deleted; files not named by us are kept."""
    directory = tmp_path / "logs" / "bot1"
    directory.mkdir(parents=True)
    now = time.time()
    old = _make(directory, f"bot1.log.{make_stamp(now - 10 * DAY)}.gz")
    old_structured = _make(directory, f"bot1_structured.log.{make_stamp(now - 9 * DAY)}.gz")
    young = _make(directory, f"bot1.log.{make_stamp(now - 3600)}.gz")
    partial = directory / f"bot1.log.{make_stamp(now - 60)}.gz.tmp"
    partial.write_bytes(b"half")
    foreign = [
        directory / "notes.txt",
        directory / "bot1.log.old",
        directory / f"other.log.{make_stamp(now - 10 * DAY)}.gz",
        directory / f"bot1.log.{make_stamp(now - 10 * DAY)}.bak",
        tmp_path / "logs" / f"bot1.log.{make_stamp(now - 10 * DAY)}.gz",
    ]
    for path in foreign:
        path.write_text("mine")
    (directory / "bot1.log").write_text("live\n")

    sink = make_sink(retention_days=7)
    sink.start()
    assert not old.exists()
    assert not old_structured.exists()
    assert not partial.exists()
    assert young.exists()
    assert (directory / "bot1.log").read_text() == "live\n"
    for path in foreign:
        assert path.read_text() == "mine"


def test_periodic_sweep_enforces_total_size(
    make_sink: Callable[..., LogSink], tmp_path: Path
) -> None:
    """The periodic sweep trims rotated files beyond max_total_bytes, oldest first."""
    sink = make_sink(max_total_bytes=3000, cleanup_interval_s=0.05)
    sink.start()
    directory = tmp_path / "logs" / "bot1"
    directory.mkdir(parents=True)
    now = time.time()
    paths = [_make(directory, f"bot1.log.{make_stamp(now - i * 60)}.gz", 0) for i in range(5)]
    for path in paths:
        path.write_bytes(b"z" * 1000)
    wait_for(lambda: sum(p.exists() for p in paths) <= 3, 5, "the sweep")
    assert [p.exists() for p in paths] == [True, True, True, False, False]


def test_an_instance_keeps_its_own_retention_even_in_its_own_log_dir(tmp_path: Path) -> None:
    """The seed's per-instance log_retention_days: bot1 keeps 1 day (in its own log_dir outside
    the keeper's), bot2 the keeper-wide 30 days; a 3-day-old rotated file goes only for bot1."""
    from gridkeeper.logs.housekeeping import Housekeeper

    now = time.time()
    own = tmp_path / "project" / "logs" / "bot1"
    shared = tmp_path / "logs" / "bot2"
    own.mkdir(parents=True)
    shared.mkdir(parents=True)
    old1 = _make(own, f"bot1.log.{make_stamp(now - 3 * DAY)}.gz")
    old2 = _make(shared, f"bot2.log.{make_stamp(now - 3 * DAY)}.gz")
    keeper_wide = RetentionPolicy(30 * DAY, 10**9, 100)
    house = Housekeeper(tmp_path / "logs", keeper_wide, compress=False, interval_s=3600)
    house.set_dir_policy(own, RetentionPolicy(1 * DAY, 10**9, 100), interval_s=600)
    house.sweep()
    assert not old1.exists() and old2.exists()
    assert house.deleted == 1


def test_the_housekeeping_thread_exists_only_while_there_is_work(tmp_path: Path) -> None:
    """An idle keeper holds no housekeeping thread: a rotation starts one, it ends when done."""
    import threading

    from gridkeeper.logs.housekeeping import Housekeeper

    def workers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "gridkeeper-logs-housekeeper"]

    directory = tmp_path / "logs" / "bot1"
    directory.mkdir(parents=True)
    house = Housekeeper(
        tmp_path / "logs", RetentionPolicy(30 * DAY, 10**9, 100), compress=True, interval_s=3600
    )
    house.start()
    wait_for(lambda: not workers(), 5, "the idle worker to end")
    rotated = _make(directory, f"bot1.log.{make_stamp(time.time())}", 0)
    rotated.write_bytes(b"line\n" * 100)
    house.rotated(rotated)
    assert house.wait_idle(5)
    assert not rotated.exists() and rotated.with_name(rotated.name + ".gz").exists()
    wait_for(lambda: not workers(), 5, "the worker to end after its job")
    house.stop(5)
