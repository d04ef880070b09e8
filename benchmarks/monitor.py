"""Monitor cost and alert latency, each beside its baseline, in one run.

1. CPU time per sampling cycle with 20 instances (20 real child processes): the monitor's whole
   cycle (host + per-instance sampling, writing samples and rollups to SQLite, evaluating rules)
   beside the raw psutil sampling floor (the same psutil calls, nothing else); target <= 2x.
   The monitor's clock advances one interval (10 s) per cycle, so the once-a-minute rollup
   of the raw samples is paid in proportion, as in a real run.
2. The RSS of a real `gridkeeper monitor` process (its own home, no keeper), target <= 35 MiB,
   beside a bare interpreter.
3. Alert latency: from killing an instance's process to the webhook receiver holding the signed
   notification. The keeper's part is played by a thread waiting on the child and emitting the
   `crashed` event into the monitor's event source (the real keeper adds its own detection time,
   event-driven, on top). Beside it: the bare round trip of one POST to the same receiver.

Run: .venv/bin/python benchmarks/monitor.py [--cycles N] [--kills N]  (about 30 s)
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
CYCLE_TARGET = 2.0  # x the raw psutil floor (issue 14)
RSS_TARGET_MIB = 35.0


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
    ticks = iter(range(10**9))
    t0 = time.time()
    service = MonitorService(
        home,
        MonitorSettings(),
        NotificationSettings(),
        events=[],
        status=lambda: statuses,
        clock=lambda: t0 + 10.0 * next(ticks),  # one interval per cycle
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


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def monitor_rss(home: Path, settle: float) -> tuple[float, float]:
    """(RSS of a real `gridkeeper monitor` after `settle` s, RSS of a bare interpreter), MiB."""
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "settings.json"
    settings.write_text('{"monitor": {"restart_keeper": false}}')
    gk = Path(sys.executable).parent / "gridkeeper"
    env = {**os.environ, "GRIDKEEPER_HOME": str(home)}
    env.pop("GRIDKEEPER_SETTINGS", None)
    proc = subprocess.Popen(
        [str(gk), "monitor", "--settings", str(settings)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        time.sleep(settle)
        if proc.poll() is not None:
            raise RuntimeError(f"gridkeeper monitor exited with {proc.returncode}")
        return rss_mib(proc.pid), rss_mib(bare.pid)
    finally:
        for p in (proc, bare):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--settle", type=float, default=8.0, help="seconds before the RSS read")
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
        print(
            f"  monitor cycle (+SQLite)   {ours * 1000:8.2f}   {ours / floor:.2f}x floor, "
            f"target <= {CYCLE_TARGET:g}x: {verdict(ours <= CYCLE_TARGET * floor)}"
        )
        ours_rss, bare_rss = monitor_rss(home / "rss", args.settle)
        print(f"monitor process RSS after {args.settle:.0f}s (MiB)")
        print(f"  bare interpreter          {bare_rss:8.1f}")
        print(
            f"  gridkeeper monitor        {ours_rss:8.1f}   target <= {RSS_TARGET_MIB:g} MiB: "
            f"{verdict(ours_rss <= RSS_TARGET_MIB)}"
        )
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
