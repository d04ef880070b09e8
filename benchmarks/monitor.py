"""Monitor cost and alert latency, each beside its baseline, in one run.

1. CPU time per sampling cycle with 20 instances (20 real child processes): the monitor's whole
   cycle (host + per-instance sampling, writing samples and rollups to SQLite, evaluating rules)
   beside the raw psutil sampling floor (the same psutil calls, nothing else).
2. Alert latency: from killing an instance's process to the webhook receiver holding the signed
   notification. The keeper's part is played by a thread waiting on the child and emitting the
   `crashed` event into the monitor's event source (the real keeper adds its own detection time,
   event-driven, on top). Beside it: the bare round trip of one POST to the same receiver.

Run: .venv/bin/python benchmarks/monitor.py [--cycles N] [--kills N]
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
from pydantic import SecretStr

from gridkeeper.config.monitor import (
    AlertRules,
    MonitorSettings,
    NotificationSettings,
    WebhookChannel,
)
from gridkeeper.monitor.service import MonitorService

SLEEPER = [sys.executable, "-c", "import time; time.sleep(3600)"]


def spawn(name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(SLEEPER, env={**os.environ, "GRIDKEEPER_INSTANCE": name})


def psutil_floor(procs: list[subprocess.Popen[bytes]], home: Path, cycles: int) -> float:
    """CPU seconds per cycle of the bare psutil calls the monitor makes."""
    handles = [psutil.Process(p.pid) for p in procs]
    start = time.process_time()
    for _ in range(cycles):
        psutil.cpu_percent(None)
        psutil.cpu_times()
        os.getloadavg()
        psutil.virtual_memory()
        psutil.swap_memory()
        psutil.disk_usage(str(home))
        psutil.net_io_counters()
        for h in handles:
            with h.oneshot():
                h.cpu_times()
                h.memory_info()
                h.num_threads()
                h.num_fds()
    return (time.process_time() - start) / cycles


def monitor_cycle(procs: list[subprocess.Popen[bytes]], home: Path, cycles: int) -> float:
    statuses = [
        {"name": f"bot{i}", "state": "running", "pid": p.pid, "restarts": 0}
        for i, p in enumerate(procs)
    ]
    service = MonitorService(
        home, MonitorSettings(), NotificationSettings(), events=[], status=lambda: statuses
    )
    service.start()
    try:
        service.cycle()  # first cycle opens process handles and primes CPU windows
        start = time.process_time()
        for _ in range(cycles):
            service.cycle()
        return (time.process_time() - start) / cycles
    finally:
        service.stop()


class Receiver:
    def __init__(self) -> None:
        self.arrivals: queue.Queue[float] = queue.Queue()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.arrivals.put(time.perf_counter())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def alert_latency(home: Path, kills: int) -> tuple[list[float], list[float]]:
    receiver = Receiver()
    url = f"http://127.0.0.1:{receiver.port}/hook"
    events: queue.Queue[dict[str, Any] | None] = queue.Queue()
    service = MonitorService(
        home,
        MonitorSettings(interval=60, rules=AlertRules(resolve_after=3600)),
        NotificationSettings(webhook=WebhookChannel(enabled=True, url=url, secret=SecretStr("k"))),
        events=iter(events.get, None),
    )
    stop = threading.Event()
    runner = threading.Thread(target=service.run, args=(stop,), daemon=True)
    runner.start()
    while service.outbox is None:
        time.sleep(0.01)
    latencies = []
    for i in range(kills):
        proc = spawn(f"bot{i}")
        time.sleep(0.05)  # let it start

        def keeper(proc: subprocess.Popen[bytes] = proc, seq: int = i + 1) -> None:
            proc.wait()
            events.put({"seq": seq, "instance": f"bot{seq}", "kind": "crashed", "message": "-"})

        threading.Thread(target=keeper, daemon=True).start()
        t0 = time.perf_counter()
        proc.kill()
        latencies.append(receiver.arrivals.get(timeout=10) - t0)
    stop.set()
    events.put(None)
    runner.join(10)
    with httpx.Client() as client:
        bare = []
        for _ in range(kills):
            t0 = time.perf_counter()
            client.post(url, content=b"{}")
            bare.append(receiver.arrivals.get(timeout=10) - t0)
    return latencies, bare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--kills", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        procs = [spawn(f"bot{i}") for i in range(20)]
        try:
            time.sleep(0.3)
            floor = psutil_floor(procs, home, args.cycles)
            ours = monitor_cycle(procs, home / "a", args.cycles)
        finally:
            for p in procs:
                p.kill()
                p.wait()
        print("sampling cycle, 20 instances (CPU ms per cycle)")
        print(f"  raw psutil floor          {floor * 1000:8.2f}")
        print(f"  monitor cycle (+SQLite)   {ours * 1000:8.2f}")
        lat, bare = alert_latency(home / "b", args.kills)
        print(f"alert latency, kill -> webhook received ({args.kills} kills, ms)")
        print(
            f"  monitor   median {statistics.median(lat) * 1000:7.2f}  max {max(lat) * 1000:7.2f}"
        )
        print(
            f"  bare POST median {statistics.median(bare) * 1000:7.2f}  max {max(bare) * 1000:7.2f}"
        )


if __name__ == "__main__":
    main()
