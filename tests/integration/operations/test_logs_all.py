"""`gridkeeper logs --all -f` follows every instance, each line prefixed with its name."""

from __future__ import annotations

import subprocess
import sys
import threading

from tests.integration.bot.conftest import wait_for
from tests.integration.operations.conftest import Ops


def test_logs_all_follows_every_instance_prefixed(ops: Ops) -> None:
    ports = {name: ops.grid(name) for name in ("sol-x", "sol-y")}
    assert ops.gk("start", "-d").returncode == 0
    for name, port in ports.items():
        wait_for(lambda n=name, p=port: ops.view(n, p)["open_orders"], what=f"{name} orders")

    history = ops.gk("logs", "--all", "-n", "3")
    assert history.returncode == 0, history.stderr
    starts = {line.split(" | ", 1)[0].strip() for line in history.stdout.splitlines()}
    assert starts == {"sol-x", "sol-y"}

    proc = subprocess.Popen(
        [sys.executable, "-m", "gridkeeper", "logs", "--all", "-f", "-n", "0"],
        cwd=ops.root,
        env=ops.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seen: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # New lines in both files after the follower started: pause each grid (the bots log it),
        # again until the follower (which starts at the files' ends) has seen both.
        def both() -> bool:
            for name, port in ports.items():
                ops.post(name, port, "/api/pause")
                ops.post(name, port, "/api/resume")
            names = {x.split(" | ", 1)[0].strip() for x in seen if " | " in x}
            return names >= {"sol-x", "sol-y"}

        wait_for(both, what="lines of both instances followed")
        assert all(x.startswith(("sol-x | ", "sol-y | ")) for x in seen)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        reader.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()

    both_missing = ops.gk("logs")
    assert both_missing.returncode != 0 and "--all" in both_missing.stderr
