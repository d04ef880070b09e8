"""RotatingFile: size and day rotation, names, and reopening a file deleted behind its back."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from gridkeeper.logs.rotation import (
    RotatingFile,
    RotationPolicy,
    make_stamp,
    parse_stamp,
    rotated_name_re,
)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_stamp_round_trip_and_order() -> None:
    """Stamps parse back to their time and sort in time order."""
    assert abs(parse_stamp(make_stamp(1_700_000_000.25)) - 1_700_000_000.25) < 1e-5
    assert make_stamp(1_700_000_000.0) < make_stamp(1_700_000_000.5) < make_stamp(1_700_000_001)


def test_size_rotation_never_splits_a_record(tmp_path: Path) -> None:
    """A write that would pass max_bytes goes to a fresh file; rotated names match the pattern."""
    rotated: list[Path] = []
    file = RotatingFile(tmp_path / "a.log", RotationPolicy(max_bytes=25), rotated.append)
    for i in range(6):
        file.append(f"record {i:02d}\n".encode(), 1_700_000_000.0 + i)
        file.flush()
    file.close()
    assert len(rotated) == 2
    pattern = rotated_name_re("a.log")
    assert all(pattern.match(p.name) for p in rotated)
    assert [p.read_text() for p in rotated] == [
        "record 00\nrecord 01\n",
        "record 02\nrecord 03\n",
    ]
    assert (tmp_path / "a.log").read_text() == "record 04\nrecord 05\n"


def test_daily_rotation_at_utc_day_change(tmp_path: Path) -> None:
    """With daily rotation the first write of a new UTC day starts a new file."""
    clock = Clock(86400.0 * 20000 + 100)
    rotated: list[Path] = []
    file = RotatingFile(
        tmp_path / "a.log", RotationPolicy(max_bytes=10**9, daily=True), rotated.append, clock
    )
    file.append(b"day one\n", clock.now)
    file.append(b"day one again\n", clock.now + 3600)
    file.flush()
    assert rotated == []
    clock.now += 86400
    file.append(b"day two\n", clock.now)
    file.close()
    assert len(rotated) == 1
    assert rotated[0].read_text() == "day one\nday one again\n"
    assert (tmp_path / "a.log").read_text() == "day two\n"


def test_reopens_file_deleted_behind_its_back(tmp_path: Path) -> None:
    """If someone deletes the live file, later writes create it again instead of vanishing."""
    clock = Clock(1000.0)
    path = tmp_path / "a.log"
    file = RotatingFile(path, RotationPolicy(max_bytes=10**9), lambda p: None, clock)
    file.append(b"one\n", clock.now)
    file.flush()
    path.unlink()
    clock.now += 5
    file.append(b"two\n", clock.now)
    file.close()
    assert path.read_text() == "two\n"


def test_fits_tells_whether_a_batch_needs_rotating(tmp_path: Path) -> None:
    """fits() is False exactly when appending the bytes would rotate (or pass the size)."""
    clock = Clock(86400.0 * 20000 + 100)
    file = RotatingFile(
        tmp_path / "a.log", RotationPolicy(max_bytes=20, daily=True), lambda p: None, clock
    )
    assert file.fits(20, clock.now)
    assert not file.fits(21, clock.now)  # an empty file still may not take a batch past the size
    file.append(b"0123456789", clock.now)
    assert file.fits(10, clock.now)
    assert not file.fits(11, clock.now)
    assert not file.fits(1, clock.now + 86400)
    file.close()


def test_empty_file_takes_the_day_of_its_first_record(tmp_path: Path) -> None:
    """A file opened one day and first written days later does not rotate at its second record."""
    clock = Clock(86400.0 * 20000 + 100)
    rotated: list[Path] = []
    file = RotatingFile(
        tmp_path / "a.log", RotationPolicy(max_bytes=10**9, daily=True), rotated.append, clock
    )
    later = clock.now + 2 * 86400
    file.append(b"first\n", later)
    file.append(b"second\n", later + 60)
    file.close()
    assert rotated == []
    assert (tmp_path / "a.log").read_text() == "first\nsecond\n"


def _fail_open_once(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[int]:
    """Make the next os.open() of `path` fail with EMFILE; returns the list of failures."""
    real_open = os.open
    failures: list[int] = []

    def flaky_open(file: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        if not failures and Path(file) == path:
            failures.append(1)
            raise OSError(errno.EMFILE, "Too many open files")
        return real_open(file, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", flaky_open)
    return failures


def test_a_failed_open_at_rotation_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One failed open() after a rename costs that write, not every later one."""
    rotated: list[Path] = []
    path = tmp_path / "a.log"
    file = RotatingFile(path, RotationPolicy(max_bytes=25), rotated.append)
    file.append(b"record 00\n", 1_700_000_000.0)
    file.append(b"record 01\n", 1_700_000_001.0)
    file.flush()
    failures = _fail_open_once(monkeypatch, path)
    with pytest.raises(OSError):
        file.append(b"record 02\n", 1_700_000_002.0)
    assert failures == [1]
    file.append(b"record 03\n", 1_700_000_003.0)
    file.flush()
    file.append(b"record 04\n", 1_700_000_004.0)
    file.close()
    assert [p.read_text() for p in rotated] == ["record 00\nrecord 01\n"]
    assert path.read_text() == "record 03\nrecord 04\n"


def test_a_failed_reopen_of_a_deleted_file_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If reopening a file deleted behind our back fails once, a later write reopens it."""
    clock = Clock(1000.0)
    path = tmp_path / "a.log"
    file = RotatingFile(path, RotationPolicy(max_bytes=10**9), lambda p: None, clock)
    path.unlink()
    clock.now += 5
    _fail_open_once(monkeypatch, path)
    file.append(b"lost\n", clock.now)
    with pytest.raises(OSError):
        file.flush()
    clock.now += 0.1
    file.append(b"kept\n", clock.now)
    file.close()
    assert path.read_text() == "kept\n"
