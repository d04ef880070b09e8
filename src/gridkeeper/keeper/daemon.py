"""Running the keeper: daemonizing, the home's lock, the subreaper flag, and the event loop.

The lock (flock on keeper.pid, held for the keeper's life) is what makes a keeper the only one
on its home; the pid written inside is for people. Daemonizing reports back through a pipe, so
`gridkeeper start -d` sees a bad settings file or a busy home instead of a silent failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import os
import sys
from pathlib import Path
from typing import IO, Any

from gridkeeper.errors import GridkeeperError, KeeperUnavailable
from gridkeeper.keeper.api import Api
from gridkeeper.keeper.client import STARTED_BY_ENV
from gridkeeper.keeper.restore import restore
from gridkeeper.keeper.sdnotify import notify
from gridkeeper.keeper.server import close_connections, serve
from gridkeeper.keeper.spec import Resolution, SettingsSpec, resolve
from gridkeeper.keeper.supervisor import Supervisor
from gridkeeper.logs import LogSink, SinkConfig, configure_logging, get_logger

PR_SET_CHILD_SUBREAPER = 36


class AlreadyRunning(GridkeeperError):
    exit_code = 0


def lock_home(home: Path) -> IO[str]:
    """Hold keeper.pid's lock or raise AlreadyRunning; the file stays open for the keeper's life."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle = (home / "keeper.pid").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        other = handle.read().strip()
        handle.close()
        raise AlreadyRunning(f"a keeper (pid {other or '?'}) already runs on {home}") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def set_subreaper() -> None:
    """Orphans of our instances (and setsid escapees) get re-parented to us, not to init."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def sink_config(home: Path, settings: SettingsSpec) -> SinkConfig:
    log_dir = Path(settings.log_dir).expanduser()
    if not log_dir.is_absolute():
        log_dir = home / log_dir
    lg = settings.logging
    return SinkConfig(
        log_dir=log_dir,
        rotate_bytes=int(lg["rotate_mb"] * 1024 * 1024),
        backups=int(lg["backups"]),
        compress=bool(lg["compress"]),
        rotate_daily=bool(lg["rotate_daily"]),
        retention_days=settings.log_retention_days,
        max_total_bytes=int(lg["max_total_mb"] * 1024 * 1024),
        cleanup_interval_s=settings.log_cleanup_interval,
        queue_size=int(lg["queue_size"]),
        redact=frozenset(settings.secrets),
    )


def daemonize(report_fd: int) -> None:
    """Second half of the double fork (run() did the first): new session, then fork again so
    the daemon can never reacquire a terminal. The original process waits on the report pipe."""
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    os.umask(0o027)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)
    del report_fd  # kept open: the daemon writes its report there


def run(
    home: Path,
    settings_path: Path | None,
    *,
    background: bool,
    initial: dict[str, Any] | None = None,
    echo: IO[str] | None = None,
) -> int:
    """Run a keeper on `home`. With background=True this returns (in the caller) once the
    daemon reports ready or failed."""
    # Read once and dropped: the instances it spawns must not inherit it.
    started_by = os.environ.pop(STARTED_BY_ENV, None) or None
    report_w: int | None = None
    if background:
        read_fd, report_w = os.pipe()
        pid = os.fork()
        if pid > 0:
            os.close(report_w)
            os.waitpid(pid, 0)
            with os.fdopen(read_fd, "rb") as pipe:
                message = pipe.read().decode("utf-8", "replace")
            if message.startswith("ok"):
                return 0
            print(message or "the keeper exited before reporting", file=sys.stderr)
            return 1 if not message.startswith("config") else 2
        os.close(read_fd)
        daemonize(report_w)

    def report(message: str) -> None:
        nonlocal report_w
        if report_w is not None:
            os.write(report_w, message.encode())
            os.close(report_w)
            report_w = None

    try:
        lock = lock_home(home)
    except AlreadyRunning as exc:
        report(f"ok (already running) {exc}")
        if not background:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        first = resolve(settings_path, home=home)
    except GridkeeperError as exc:
        report(f"config: {exc}")
        if not background:
            print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    set_subreaper()
    sink = LogSink(sink_config(home, first.settings))
    sink.start()
    configure_logging(
        first.settings.logging["level"],
        json=True,
        stream=sink.stream_for("keeper"),
        route_structlog=False,
    )
    log = get_logger("gridkeeper.keeper")
    try:
        return asyncio.run(
            _main(home, settings_path, sink, log, report, initial, echo, first, started_by)
        )
    finally:
        sink.close()
        lock.close()


async def _main(
    home: Path,
    settings_path: Path | None,
    sink: LogSink,
    log: Any,
    report: Any,
    initial: dict[str, Any] | None,
    echo: IO[str] | None,
    first: Resolution,
    started_by: str | None = None,
) -> int:
    supervisor = Supervisor(home, settings_path, sink, log, first, api=Api)
    api = supervisor.api
    assert isinstance(api, Api)
    supervisor.started_by = started_by
    supervisor.install_signals()
    try:
        server = await serve(supervisor, home / "keeper.sock")
    except OSError as exc:
        report(f"failed: cannot listen on {home / 'keeper.sock'}: {exc}")
        raise KeeperUnavailable(str(exc)) from exc
    by = f" by the {started_by}" if started_by else ""
    supervisor.emit(
        "keeper",
        "keeper_started",
        f"keeper started (pid {os.getpid()}){by}",
        {"pid": os.getpid(), "home": str(home), "started_by": started_by},
    )
    await restore(supervisor)
    report("ok")
    status = f"supervising {len(supervisor.instances)} instance(s)"
    notify(f"READY=1\nMAINPID={os.getpid()}\nSTATUS={status}")
    if initial is not None:
        for result in await api.op_start(**initial):
            if echo is not None:
                print(f"{result['name']}: {result['message']}", file=echo, flush=True)
    await supervisor.done.wait()
    server.close()
    close_connections()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.wait_closed(), 5)
    (home / "keeper.sock").unlink(missing_ok=True)
    supervisor.store.close()
    return 0
