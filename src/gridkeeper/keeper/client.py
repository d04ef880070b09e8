"""The keeper's socket API client (public: the CLI and the monitor use it), and starting a
daemonized keeper when none answers. Stdlib json, not orjson: importing orjson costs `status`
more than all its requests.

A keeper that is alive but does not answer (stopped with SIGSTOP, its loop wedged) must not hang
the operator's commands, and must not make them start a second keeper: every wait for a reply
is cut into slices of `answer_timeout()` seconds, and between two slices the keeper has to
answer a ping on a fresh connection. A keeper that answers pings may take as long as the
operation needs (a stop waits for `stop_timeout`); one that does not is reported at once as
"the keeper (pid N) does not answer". The home's lock (keeper.pid, see keeper/daemon.py), not
the socket, says whether a keeper lives: while it is held nothing starts another one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gridkeeper.errors import ConfigError, GridkeeperError, KeeperUnavailable, UsageError

SOCKET = "keeper.sock"
PID_FILE = "keeper.pid"
START_TIMEOUT = 15.0
ANSWER_TIMEOUT = 5.0  # a live keeper answers a ping in milliseconds; this is for loaded hosts
ANSWER_TIMEOUT_ENV = "GRIDKEEPER_ANSWER_TIMEOUT"
STARTED_BY_ENV = "GRIDKEEPER_KEEPER_STARTED_BY"  # who started a keeper (read once, then dropped)
MAX_REPLY = 64 << 20
# Answered at once by a live keeper: no reason to keep waiting past one answer_timeout().
QUICK_OPS = frozenset({"ping", "status", "events"})


def answer_timeout() -> float:
    """Seconds a keeper has to answer a ping ($GRIDKEEPER_ANSWER_TIMEOUT, default 5)."""
    raw = os.environ.get(ANSWER_TIMEOUT_ENV)
    try:
        value = float(raw) if raw else ANSWER_TIMEOUT
    except ValueError:
        return ANSWER_TIMEOUT
    return value if 0 < value < 3600 else ANSWER_TIMEOUT


class KeeperError(GridkeeperError):
    """The keeper refused an operation; `code` is its error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.exit_code = {"not_found": 1, "bad_request": 2, "config": 2}.get(code, 1)


class KeeperUnresponsive(KeeperUnavailable):
    """A keeper holds the home (its lock is taken) but does not answer (exit 1)."""

    def __init__(self, home: Path, pid: int | None) -> None:
        who = f"the keeper (pid {pid})" if pid else "the keeper"
        super().__init__(
            f"{who} does not answer on {home / SOCKET} (within {answer_timeout():g}s); "
            "it may be stopped (SIGSTOP) or wedged: see `gridkeeper logs keeper`, "
            f"or `kill -CONT {pid or '<pid>'}`"
        )
        self.pid = pid


def lock_holder(home: Path) -> int | None:
    """The pid of the keeper holding `home`'s lock, or None when no keeper holds it. The lock
    decides, not the pid inside (it may be stale); 0 when locked with an unreadable pid."""
    try:
        fd = os.open(home / PID_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raw = os.read(fd, 64).decode("ascii", "replace").strip()
            return int(raw) if raw.isdigit() else 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class KeeperClient:
    def __init__(self, home: Path, timeout: float | None = 600.0) -> None:
        self.home = home
        self.path = home / SOCKET
        self.timeout = timeout

    def _connect(self, timeout: float | None) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(self.path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            raise KeeperUnavailable(f"no keeper answers at {self.path}") from exc
        except TimeoutError:
            sock.close()
            raise KeeperUnresponsive(self.home, lock_holder(self.home)) from None
        except OSError as exc:
            sock.close()
            raise KeeperUnavailable(f"cannot reach the keeper at {self.path}: {exc}") from exc
        return sock

    def request(self, op: str, **args: Any) -> Any:
        """Send one request; the result, or KeeperError/ConfigError with the keeper's reason.
        KeeperUnresponsive when the keeper stops answering pings while we wait."""
        reply = self._exchange(op, args, probe=op not in QUICK_OPS)
        if reply is None:
            raise KeeperUnavailable("the keeper closed the connection without replying")
        if reply.get("ok"):
            return reply.get("result")
        error = reply.get("error") or {}
        code, message = error.get("code", "failed"), error.get("message", "unknown error")
        if code == "config":
            raise ConfigError(message)
        if code == "bad_request":
            raise UsageError(message)
        raise KeeperError(code, message)

    def _exchange(self, op: str, args: dict[str, Any], *, probe: bool) -> dict[str, Any] | None:
        slice_s = answer_timeout()
        if self.timeout is not None:
            slice_s = min(slice_s, self.timeout)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        with self._connect(slice_s) as sock:
            try:
                sock.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
            except TimeoutError:
                raise KeeperUnresponsive(self.home, lock_holder(self.home)) from None
            buf = bytearray()
            while True:
                try:
                    chunk = sock.recv(1 << 16)
                except TimeoutError:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise KeeperUnavailable(
                            f"the keeper did not finish {op!r} within {self.timeout:g}s"
                        ) from None
                    if not probe or not self._answers_ping(slice_s):
                        raise KeeperUnresponsive(self.home, lock_holder(self.home)) from None
                    continue  # alive and busy with a long operation: keep waiting
                if not chunk:
                    return None
                buf += chunk
                end = buf.find(b"\n")
                if end >= 0:
                    data: dict[str, Any] = json.loads(bytes(buf[:end]))
                    return data
                if len(buf) > MAX_REPLY:
                    raise KeeperUnavailable("the keeper's reply is too long")

    def _answers_ping(self, timeout: float) -> bool:
        probe = KeeperClient(self.home, timeout=timeout)
        try:
            probe._exchange("ping", {}, probe=False)
        except KeeperUnavailable:
            return False
        return True

    def ping(self) -> dict[str, Any] | None:
        """The keeper's identity, or None when no keeper listens. Raises KeeperUnresponsive when
        one listens (or holds the home) but does not answer."""
        try:
            reply = self._exchange("ping", {}, probe=False)
        except KeeperUnresponsive:
            raise
        except (KeeperUnavailable, OSError, ValueError):
            return None
        if not reply or not reply.get("ok"):
            return None
        result: dict[str, Any] = reply["result"]
        return result

    def subscribe(self, since_seq: int | None = None) -> Iterator[dict[str, Any]]:
        """Every event after `since_seq`, then new ones as they happen (blocks)."""
        sock = self._connect(answer_timeout())
        try:
            sock.sendall(
                json.dumps({"op": "subscribe", "args": {"since_seq": since_seq}}).encode() + b"\n"
            )
            stream = sock.makefile("rb")
            try:
                first = _read_line(stream)
            except TimeoutError:
                raise KeeperUnresponsive(self.home, lock_holder(self.home)) from None
            if not first or not first.get("ok"):
                raise KeeperUnavailable("the keeper refused the subscription")
            sock.settimeout(None)
            while True:
                line = _read_line(stream)
                if line is None:
                    return
                event = line.get("event")
                if isinstance(event, dict):
                    yield event
        finally:
            sock.close()


def _read_line(stream: Any) -> dict[str, Any] | None:
    line = stream.readline()
    if not line:
        return None
    data: dict[str, Any] = json.loads(line)
    return data


def ensure_keeper(
    home: Path, settings_path: Path | None, *, started_by: str | None = None
) -> KeeperClient:
    """A client of the running keeper; start a daemonized one first when none holds the home.
    Never starts a second keeper while one holds the lock: an unresponsive one is reported.
    `started_by` is what the new keeper's `ping` and `keeper_started` event name as its
    starter (the monitor's restart uses it)."""
    import subprocess  # only here: `status` against a running keeper never needs it

    client = KeeperClient(home)
    if client.ping() is not None:
        return client
    holder = lock_holder(home)
    if holder is None:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        # -P: never import modules from the cwd (see gridkeeper.resolver)
        argv = [
            sys.executable,
            "-P",
            "-m",
            "gridkeeper",
            "keeper",
            "--home",
            str(home),
            "--daemonize",
        ]
        if settings_path is not None:
            argv += ["--settings", str(settings_path)]
        env = dict(os.environ)
        # A keeper started from inside an instance (the monitor) must not pass on its identity.
        for key in ("GRIDKEEPER_INSTANCE", "GRIDKEEPER_START_NONCE", STARTED_BY_ENV):
            env.pop(key, None)
        if started_by:
            env[STARTED_BY_ENV] = started_by
        proc = subprocess.run(
            argv, env=env, capture_output=True, text=True, check=False, timeout=START_TIMEOUT * 4
        )
        if proc.returncode not in (0,):
            detail = (proc.stderr or proc.stdout).strip()
            raise KeeperUnavailable(f"the keeper did not start: {detail or proc.returncode}")
    # Either we just started one, or one holds the lock and is still opening its socket.
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if client.ping() is not None:
            return client
        if holder is not None and lock_holder(home) is None:
            holder = None  # it died meanwhile: the next call may start one
            break
        time.sleep(0.02)
    if holder is not None:
        raise KeeperUnresponsive(home, holder)
    with contextlib.suppress(Exception):
        if client.ping() is not None:
            return client
    raise KeeperUnavailable(
        f"the keeper did not answer within {START_TIMEOUT:g}s; see {home}/logs/keeper/"
    )
