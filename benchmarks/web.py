"""Web dashboard: first paint in Chromium, and event -> DOM latency beside the raw event stream.

One keeper (a real `gridkeeper keeper`) supervising one plain program, one `gridkeeper web`, one
headless Chromium (Debian's `chromium` through Playwright, as the tests run it):

1. First paint: a fresh load of the logged-in page, `first-contentful-paint` from the browser's
   own Performance API, and the time until the instance table holds its first row (the page's
   first SSE `instances` message), median of N loads.
2. kill -9 of the program -> the keeper restarts it. Two clocks on the same host, same kill:
   - raw: a `subscribe` client of the keeper's socket receives the `running` event of the new
     process (what any client could get at best);
   - DOM: a MutationObserver in the page sees the row show `running` with one more restart.
   The difference is the dashboard's cost: the SSE hop, its throttle of event bursts (at most
   one table per 200 ms; the first after a quiet spell goes out at once), one
   `status` request and the render.

Run: .venv/bin/python benchmarks/web.py [--loads N] [--kills N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from gridkeeper.keeper.client import KeeperClient

SETTINGS = {
    "restart_delay": 0.05,
    "restart_delay_max": 0.2,
    "restart_jitter": 0,
    "startsecs": 0.3,
    "stop_timeout": 2,
    "max_restart_attempts": 1000,
    "monitor": {"enabled": False},
}
NAME = "sleeper"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def gk(root: Path, env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "gridkeeper", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout


def wait(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:  # not up yet
            value = None
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError("condition not met")


class RawStream(threading.Thread):
    """Wall-clock arrival time of each `running` event, by pid."""

    def __init__(self, home: Path) -> None:
        super().__init__(daemon=True)
        self.client = KeeperClient(home, timeout=None)
        self.running: dict[int, float] = {}

    def run(self) -> None:
        for event in self.client.subscribe():
            if event.get("instance") == NAME and event.get("kind") == "running":
                pid = (event.get("data") or {}).get("pid")
                self.running[int(pid) if pid else -len(self.running) - 1] = time.time()


def status(home: Path) -> dict[str, Any]:
    rows = KeeperClient(home).request("status", names=[NAME])
    row: dict[str, Any] = rows[0]
    return row


# Armed before the kill (stored, not awaited): resolves with the page's clock at the update.
OBSERVE = """([restarts]) => { window.__shown = new Promise((resolve) => {
  const done = () => {
    const row = document.querySelector('#instances tr[data-name="sleeper"]');
    return row && row.querySelector('td.restarts').textContent === String(restarts)
      && row.querySelector('td.state').textContent === 'running';
  };
  if (done()) { resolve(Date.now()); return; }
  const obs = new MutationObserver(() => {
    if (done()) { obs.disconnect(); resolve(Date.now()); }
  });
  const opts = {childList: true, subtree: true, characterData: true};
  obs.observe(document.querySelector('#instances tbody'), opts);
}); }"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--kills", type=int, default=10)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if not chromium:
        print("Debian's chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="gk-web-bench-"))
    home, root = tmp / "home", tmp / "proj"
    (root / "config" / "active").mkdir(parents=True)
    port = free_port()
    (root / "config" / "daemon_config.json").write_text(
        json.dumps({**SETTINGS, "web": {"port": port}})
    )
    command = [sys.executable, "-c", "import time; time.sleep(3600)"]
    (root / "config" / "active" / f"{NAME}.json").write_text(
        json.dumps({"metadata": {"instance_id": NAME}, "daemon_config": {"command": command}})
    )
    env = {**os.environ, "GRIDKEEPER_HOME": str(home)}
    env.pop("GRIDKEEPER_SETTINGS", None)
    web = None
    try:
        gk(root, env, "start", "-d")
        web = subprocess.Popen(
            [sys.executable, "-m", "gridkeeper", "web", "--refresh", "60"],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        link = gk(root, env, "web", "url").strip()
        url = f"http://127.0.0.1:{port}/"
        wait(lambda: __import__("httpx").get(url + "login", timeout=2).status_code == 200)
        raw = RawStream(home)
        raw.start()
        with sync_playwright() as play:
            browser = play.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            tab = browser.new_page()
            tab.goto(link)
            fcp: list[float] = []
            table: list[float] = []
            for _ in range(args.loads):
                start = time.perf_counter()
                tab.goto(url)
                tab.wait_for_selector('#instances tr[data-name="sleeper"]')
                table.append((time.perf_counter() - start) * 1000)
                fcp.append(
                    tab.evaluate(
                        "performance.getEntriesByName('first-contentful-paint')[0].startTime"
                    )
                )
            tab.wait_for_selector("#conn.live")
            raw_ms: list[float] = []
            dom_ms: list[float] = []
            for _ in range(args.kills):
                before = wait(lambda: (r := status(home))["state"] == "running" and r)
                tab.wait_for_function(
                    'n => document.querySelector(\'#instances tr[data-name="sleeper"] '
                    "td.restarts').textContent === String(n)",
                    arg=before["restarts"],
                )
                tab.evaluate(OBSERVE, [before["restarts"] + 1])
                killed = time.time()
                os.kill(int(before["pid"]), signal.SIGKILL)
                shown = float(tab.evaluate("window.__shown")) / 1000  # Date.now() at the update
                old = before["pid"]
                new = wait(lambda old=old: (r := status(home))["pid"] != old and r["pid"] and r)
                pid = int(new["pid"])
                arrived = wait(lambda pid=pid: raw.running.get(pid))
                raw_ms.append((arrived - killed) * 1000)
                dom_ms.append((shown - killed) * 1000)
            browser.close()
        print(
            f"first contentful paint        median {statistics.median(fcp):7.1f} ms  (n={len(fcp)})"
        )
        print(f"load -> instance table filled median {statistics.median(table):7.1f} ms")
        print(
            f"kill -9 -> raw `running` event median {statistics.median(raw_ms):7.1f} ms  "
            f"max {max(raw_ms):7.1f} ms  (n={len(raw_ms)})"
        )
        print(
            f"kill -9 -> row shows restart   median {statistics.median(dom_ms):7.1f} ms  "
            f"max {max(dom_ms):7.1f} ms"
        )
        print(
            "dashboard's own cost (median)         "
            f"{statistics.median(dom_ms) - statistics.median(raw_ms):7.1f} ms"
        )
    finally:
        if web is not None:
            web.terminate()
            try:
                web.wait(timeout=10)
            except subprocess.TimeoutExpired:  # never skip the keeper's shutdown below
                web.kill()
                web.wait()
        subprocess.run(
            [sys.executable, "-m", "gridkeeper", "shutdown"],
            cwd=root,
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
