"""The keeper's socket API client (public: the CLI and the monitor use it), and starting a
daemonized keeper when none answers. Stdlib json, not orjson: importing orjson costs `status`
more than all its requests."""

from __future__ import annotations

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
START_TIMEOUT = 15.0


class KeeperError(GridkeeperError):
    """The keeper refused an operation; `code` is its error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.exit_code = {"not_found": 1, "bad_request": 2, "config": 2}.get(code, 1)


class KeeperClient:
    def __init__(self, home: Path, timeout: float | None = 600.0) -> None:
        self.home = home
        self.path = home / SOCKET
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            raise KeeperUnavailable(f"no keeper answers at {self.path}") from exc
        except OSError as exc:
            sock.close()
            raise KeeperUnavailable(f"cannot reach the keeper at {self.path}: {exc}") from exc
        return sock

    def request(self, op: str, **args: Any) -> Any:
        """Send one request; the result, or KeeperError/ConfigError with the keeper's reason."""
        with self._connect() as sock:
            sock.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
            reply = _read_line(sock.makefile("rb"))
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

    def ping(self) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self.request("ping")
        except (KeeperUnavailable, OSError):
            return None
        return result

    def subscribe(self, since_seq: int | None = None) -> Iterator[dict[str, Any]]:
        """Every event after `since_seq`, then new ones as they happen (blocks)."""
        sock = self._connect()
        sock.settimeout(None)
        try:
            sock.sendall(
                json.dumps({"op": "subscribe", "args": {"since_seq": since_seq}}).encode() + b"\n"
            )
            stream = sock.makefile("rb")
            first = _read_line(stream)
            if not first or not first.get("ok"):
                raise KeeperUnavailable("the keeper refused the subscription")
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


def ensure_keeper(home: Path, settings_path: Path | None) -> KeeperClient:
    """A client of the running keeper; start a daemonized one first when none answers."""
    import subprocess  # only here: `status` against a running keeper never needs it

    client = KeeperClient(home)
    if client.ping() is not None:
        return client
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "gridkeeper", "keeper", "--home", str(home), "--daemonize"]
    if settings_path is not None:
        argv += ["--settings", str(settings_path)]
    env = dict(os.environ)
    env.pop("GRIDKEEPER_INSTANCE", None)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if proc.returncode not in (0,):
        detail = (proc.stderr or proc.stdout).strip()
        raise KeeperUnavailable(f"the keeper did not start: {detail or proc.returncode}")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if client.ping() is not None:
            return client
        time.sleep(0.02)
    raise KeeperUnavailable(
        f"the keeper did not answer within {START_TIMEOUT:g}s; see {home}/logs/keeper/"
    )
