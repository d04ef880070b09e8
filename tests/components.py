"""Real Prometheus and Alertmanager (Debian packages) started on 127.0.0.1 for a test.

`make test` installs them when missing (see the Makefile's `components` target); a test that
needs one fails with that hint rather than being skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support import free_port, wait_for

HINT = "run `make components` (as root: apt-get install prometheus prometheus-alertmanager)"


def binary(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: {HINT}"
    return path


class Server:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log


@contextmanager
def _run(argv: list[str], port: int, workdir: Path, what: str) -> Iterator[Server]:
    log = workdir / f"{what}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    server = Server(proc, port, log)
    try:
        wait_for(
            lambda: _ready(server, what),
            timeout=30,
            what=f"{what} ready",
            ignore=(httpx.HTTPError,),
        )
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ready(server: Server, what: str) -> bool:
    if server.proc.poll() is not None:
        raise AssertionError(f"{what} exited: {server.log.read_text()[-2000:]}")
    return httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200


@contextmanager
def alertmanager(workdir: Path) -> Iterator[Server]:
    """Alertmanager with a null receiver and no clustering, on a free loopback port."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "am.yml"
    config.write_text('route: {receiver: "null"}\nreceivers: [{name: "null"}]\n')
    port = free_port()
    argv = [
        binary("prometheus-alertmanager"),
        f"--config.file={config}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.path={workdir / 'data'}",
        "--cluster.listen-address=",
    ]
    with _run(argv, port, workdir, "alertmanager") as server:
        yield server


@contextmanager
def prometheus(config: Path, workdir: Path) -> Iterator[Server]:
    """Prometheus with `config`, on a free loopback port."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [
        binary("prometheus"),
        f"--config.file={config}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
    ]
    with _run(argv, port, workdir, "prometheus") as server:
        yield server
