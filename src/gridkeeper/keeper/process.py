"""Starting an instance's process and finding and killing everything it leaves behind.

Output goes through named pipes in `<home>/run/`, not anonymous pipes: the child also holds a
read end of its own pipes, so if the keeper dies the child never gets SIGPIPE (its writes just
wait once the pipe buffer fills), and the next keeper reopens the same pipes and reads on.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import signal
import stat
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gridkeeper import proctree
from gridkeeper.keeper.policy import Exit

Stream = Literal["stdout", "stderr"]
TAG_ENV = "GRIDKEEPER_INSTANCE"
HOME_ENV = "GRIDKEEPER_HOME"
# A fresh random value per spawn: the bot echoes it on /health, so the keeper's probe can tell
# its own process's answer from another server that holds the port (issue 11, fault 5).
NONCE_ENV = "GRIDKEEPER_START_NONCE"
F_SETPIPE_SZ = 1031  # Linux: a larger pipe lets a bot write 1 MiB while no keeper reads
PIPE_SIZE = 1 << 20


@dataclass
class Spawned:
    pid: int
    identity: str | None
    popen: subprocess.Popen[bytes] | None


def fifo_paths(run_dir: Path, name: str) -> dict[Stream, Path]:
    return {"stdout": run_dir / f"{name}.stdout", "stderr": run_dir / f"{name}.stderr"}


def ensure_fifo(path: Path) -> None:
    try:
        if stat.S_ISFIFO(path.stat().st_mode):
            return
        path.unlink()
    except FileNotFoundError:
        pass
    os.mkfifo(path, 0o600)


def open_reader(path: Path) -> int:
    """Open a FIFO's read end without blocking (it succeeds with no writer yet)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
    return fd


def spawn(
    name: str,
    argv: tuple[str, ...],
    cwd: Path,
    env: Mapping[str, str],
    fifos: Mapping[Stream, Path],
) -> Spawned:
    """Start `argv` as the leader of a new session and process group, output into the FIFOs.

    The caller must already hold the FIFOs' read ends open (or the writer open would block).
    """
    out_w = os.open(fifos["stdout"], os.O_WRONLY | os.O_CLOEXEC)
    err_w = os.open(fifos["stderr"], os.O_WRONLY | os.O_CLOEXEC)
    # Read ends the child keeps so a keeper death never breaks its pipes.
    keep = [os.open(p, os.O_RDONLY | os.O_NONBLOCK) for p in fifos.values()]
    try:
        popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=err_w,
            start_new_session=True,
            pass_fds=keep,
            close_fds=True,
        )
    finally:
        for fd in (out_w, err_w, *keep):
            os.close(fd)
    return Spawned(popen.pid, identity(popen.pid), popen)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown-boot"


def identity(pid: int) -> str | None:
    """`<boot id>:<start time in clock ticks since boot>`: what makes a pid one process.

    Read from /proc rather than psutil's create_time(), which adds the boot time in wall-clock
    seconds and so moves when the clock is stepped (NTP), breaking re-adoption.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return f"{_boot_id()}:{fields[19]}"


def same_process(pid: int | None, ident: str | None, name: str, home: str) -> bool:
    """True when `pid` is still the process we started (pids get reused): same kernel start
    time on the same boot, and it still carries this instance's tag."""
    if not pid or not ident or identity(pid) != ident:
        return False
    environ = proctree.environ(pid)
    if environ is None:
        return False
    return environ.get(TAG_ENV) == name and environ.get(HOME_ENV) == home


def tagged(name: str, home: str, *, everywhere: bool) -> list[int]:
    """Processes carrying this instance's tag: the keeper's descendants, or (after adoption,
    when orphans were re-parented elsewhere) every process of this user. Read straight from
    /proc (gridkeeper.proctree): the keeper does without psutil, 1 MiB of its footprint."""
    me = os.getpid()
    candidates: Iterable[int]
    if everywhere:
        uid = os.getuid()
        candidates = (p for p in proctree.pids() if proctree.real_uid(p) == uid)
    else:
        # The full parent map, not the task/children files: those may miss a child forked
        # while they are read, and containment must not miss one.
        candidates = proctree.descendants(me, proctree.children_map())
    found: list[int] = []
    for pid in candidates:
        if pid == me:
            continue
        environ = proctree.environ(pid)
        if environ and environ.get(TAG_ENV) == name and environ.get(HOME_ENV) == home:
            found.append(pid)
    return found


def group_members(pgid: int) -> list[int]:
    out = []
    for pid in proctree.pids():
        try:
            if os.getpgid(pid) == pgid:
                out.append(pid)
        except OSError:
            continue
    return out


def signal_group(pgid: int, sig: int) -> bool:
    """Signal a process group; False when it no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def signal_tree(name: str, home: str, pgid: int | None, sig: int, *, everywhere: bool) -> int:
    """Signal the group and every tagged process; the number of processes signalled."""
    count = 0
    members: list[int] = []
    if pgid:
        members = group_members(pgid)
        if members and signal_group(pgid, sig):
            count += len(members)
        else:
            members = []
    for pid in tagged(name, home, everywhere=everywhere):
        if pid in members:
            continue  # signalled once already: a second SIGTERM means "hurry" to many programs
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
            count += 1
    return count


def survivors(name: str, home: str, pgid: int | None, *, everywhere: bool) -> list[int]:
    """Processes still alive (zombies excluded) in the group or carrying the tag."""
    pids = set(group_members(pgid)) if pgid else set()
    pids |= set(tagged(name, home, everywhere=everywhere))
    alive = []
    for pid in pids:
        stat = proctree.read_stat(pid)
        if stat is not None and stat.state != "Z":
            alive.append(pid)
    return sorted(alive)


def pidfd(pid: int) -> int | None:
    """A pidfd for a process that is not our child (adopted): readable when it dies."""
    try:
        return os.pidfd_open(pid)
    except OSError as exc:
        if exc.errno in (errno.ESRCH, errno.ENOSYS, errno.EPERM):
            return None
        raise


def kill_now(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


async def contain(
    name: str, home: str, pgid: int | None, *, everywhere: bool, timeout: float
) -> list[int]:
    """SIGKILL the group and every tagged process until none is left (or `timeout` passes);
    the pids that survived (empty when all are gone)."""
    deadline = time.monotonic() + timeout
    while True:
        left = survivors(name, home, pgid, everywhere=everywhere)
        if not left or time.monotonic() >= deadline:
            return left
        signal_tree(name, home, pgid, signal.SIGKILL, everywhere=everywhere)
        for pid in left:
            kill_now(pid, signal.SIGKILL)
        await asyncio.sleep(0.02)


def exit_from_status(status: int) -> Exit:
    """A waitpid() status as an Exit: a code, or the signal that ended it."""
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return Exit(None, -code)
    return Exit(code)


def start_nonce(pid: int) -> str | None:
    """The start nonce a running process was given (for a process a previous keeper started)."""
    environ = proctree.environ(pid)
    return None if environ is None else environ.get(NONCE_ENV)
