"""Which rotated log files to delete: by age, by count per file, and by total size.

`plan()` is pure; `scan()` and `sweep()` do the I/O. Only files named by our own pattern inside
`<log_dir>/<instance>/` are ever considered, so nothing else in the directory is touched.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from gridkeeper.logs.rotation import STAMP_RE, parse_stamp

KIND_SUFFIXES: Final[dict[str, str]] = {
    "log": ".log",
    "errors": "_errors.log",
    "structured": "_structured.log",
}


def current_name(instance: str, kind: str) -> str:
    """The name of an instance's live log file of a kind (`log`, `errors`, `structured`)."""
    return instance + KIND_SUFFIXES[kind]


def _pattern(instance: str) -> re.Pattern[str]:
    bases = "|".join(re.escape(instance + suffix) for suffix in KIND_SUFFIXES.values())
    return re.compile(rf"^(?P<base>{bases})\.(?P<stamp>{STAMP_RE})(?P<gz>\.gz(?P<tmp>\.tmp)?)?$")


@dataclass(frozen=True, slots=True)
class RotatedFile:
    """A rotated log file we wrote: its live file's name, when it was rotated, its size."""

    path: Path
    base: str
    rotated_at: float
    size: int
    compressed: bool


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How much rotated history to keep."""

    max_age_s: float
    max_total_bytes: int
    backups: int


@dataclass(slots=True)
class DirScan:
    """What one instance directory holds of ours."""

    rotated: list[RotatedFile]
    partial: list[Path]  # `.gz.tmp` files an interrupted compression left behind


def plan(files: list[RotatedFile], policy: RetentionPolicy, now: float) -> list[RotatedFile]:
    """The files of one instance directory to delete, oldest first.

    A file goes when it was rotated more than `max_age_s` ago, when newer rotated files of the
    same live file already number `backups`, or while all files kept together exceed
    `max_total_bytes` (the oldest go first).
    """
    doomed: dict[Path, RotatedFile] = {}
    by_base: dict[str, list[RotatedFile]] = {}
    for item in files:
        if now - item.rotated_at > policy.max_age_s:
            doomed[item.path] = item
        else:
            by_base.setdefault(item.base, []).append(item)
    for group in by_base.values():
        group.sort(key=lambda f: f.rotated_at, reverse=True)
        for item in group[max(policy.backups, 0) :]:
            doomed[item.path] = item
    kept = sorted(
        (f for f in files if f.path not in doomed), key=lambda f: f.rotated_at, reverse=True
    )
    total = 0
    for item in kept:
        total += item.size
        if total > policy.max_total_bytes:
            doomed[item.path] = item
    return sorted(doomed.values(), key=lambda f: f.rotated_at)


def scan(directory: Path) -> DirScan:
    """Our rotated and partial files in one instance directory (named after the instance)."""
    pattern = _pattern(directory.name)
    result = DirScan([], [])
    try:
        entries = list(directory.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return result
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None:
            continue
        if match.group("tmp"):
            result.partial.append(entry)
            continue
        try:
            size = entry.stat().st_size
        except FileNotFoundError:
            continue
        result.rotated.append(
            RotatedFile(
                entry,
                match.group("base"),
                parse_stamp(match.group("stamp")),
                size,
                bool(match.group("gz")),
            )
        )
    return result


def instance_dirs(log_dir: Path) -> list[Path]:
    """The instance directories under the log directory."""
    try:
        return sorted(p for p in log_dir.iterdir() if p.is_dir())
    except FileNotFoundError:
        return []


def sweep(
    log_dir: Path, policy: RetentionPolicy, now: float, *, skip: Collection[Path] = ()
) -> list[Path]:
    """Delete what `plan()` picks in every instance directory (but those in `skip`, which have
    a policy of their own), plus partial `.gz.tmp` files.

    Must not run while a compression is writing (the sink runs both on one thread).
    """
    deleted: list[Path] = []
    for directory in instance_dirs(log_dir):
        if directory not in skip:
            deleted += sweep_dir(directory, policy, now)
    return deleted


def sweep_dir(directory: Path, policy: RetentionPolicy, now: float) -> list[Path]:
    """`sweep` for one instance directory."""
    deleted: list[Path] = []
    found = scan(directory)
    for path in found.partial:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            deleted.append(path)
    for item in plan(found.rotated, policy, now):
        with contextlib.suppress(FileNotFoundError):
            item.path.unlink()
            deleted.append(item.path)
    return deleted
