"""The whole stack's footprint (issue 14): keeper + monitor + paper exchange + N grid bots.

Starts everything as real processes in a temp project and home (`gridkeeper start -d`, the
keeper's built-in monitor, a paper exchange, N grid bots on it, each bot on its own paper
account), waits until every instance is `running` and each bot's control API answers with its
grid, lets it settle, then prints:

1. The per-process table: RSS, PSS (from /proc/<pid>/smaps_rollup, when the kernel has it),
   threads and CPU% over a window, each instance's whole process tree summed.
2. The total (PSS where available, else RSS) against the 450 MiB target, met / missed, beside
   the floor measured in the same run: as many bare `python -c` interpreters as the stack has
   processes, started together (what the same number of Python processes cost doing nothing).
3. The top import costs of each program (`-X importtime`): the instances' own, from their
   stderr in a second start of the same stack with PYTHONPROFILEIMPORTTIME set (every program
   reports its imports into its log); the keeper's and the CLI's from the same imports in a
   fresh interpreter.

Every process the run starts carries a marker in its environment and is killed at the end,
even on error or Ctrl-C.

Run: .venv/bin/python benchmarks/footprint.py [--bots N] [--settle S] [--window S] [--keep]
(default: 10 bots, about 2 minutes)
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin").is_dir() else Path(sys.executable).parent
PYTHON = BIN / "python" if (BIN / "python").exists() else Path(sys.executable)
GK = str(BIN / "gridkeeper")
MARKER = "GKBENCH_RUN"
TARGET_MIB = 450.0
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)([\w.]+)")


def log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the project ----------------------------------------------------------------------------


def write_project(project: Path, bots: int, exchange_port: int) -> dict[str, str]:
    """Settings, the paper exchange with one account per bot, and the bots' configs; the
    accounts' secrets as environment variables (the configs refer to them as ${VAR})."""
    from gridkeeper.exchange.signing import keygen

    config = project / "config"
    active = config / "active"
    active.mkdir(parents=True)
    settings = {
        "log_dir": "logs",
        "monitor": {"enabled": True, "interval": 10, "restart_keeper": False},
    }
    (config / "daemon_config.json").write_text(json.dumps(settings))
    env: dict[str, str] = {}
    accounts = []
    keys = []
    for i in range(bots):
        seed, public = keygen()
        env[f"GKFP_SECRET_{i}"] = seed
        keys.append(public)
        accounts.append(
            {
                "name": f"bot{i}",
                "api_secret": f"${{GKFP_SECRET_{i}}}",
                "balances": {"USDC": "10000", "SOL": "100"},
            }
        )
    demo = json.loads((ROOT / "config" / "paper_exchange.json").read_text())
    demo["accounts"] = accounts
    (config / "paper_exchange.json").write_text(json.dumps(demo))
    (active / "paper_exchange.json").write_text(
        json.dumps(
            {
                "metadata": {"instance_id": "paper-exchange", "exchange": "paper"},
                "daemon_config": {
                    "command": [
                        "{python}",
                        "-m",
                        "gridkeeper",
                        "exchange",
                        "--config",
                        "{config_dir}/../paper_exchange.json",
                        "--port",
                        str(exchange_port),
                    ],
                    "web_port": exchange_port,
                    "auto_restart": "always",
                },
            }
        )
    )
    spot = json.loads((ROOT / "config" / "active" / "paper_sol_spot_grid.json").read_text())
    perp = json.loads((ROOT / "config" / "active" / "paper_sol_perp_grid.json").read_text())
    for i in range(bots):
        body = json.loads(json.dumps(spot if i % 2 == 0 else perp))
        body["metadata"]["instance_id"] = f"bot{i:02d}"
        body["daemon_config"]["web_port"] = free_port()
        body["exchange_config"] = {
            "base_url": f"http://127.0.0.1:{exchange_port}",
            "ws_url": f"ws://127.0.0.1:{exchange_port}/ws",
            "api_key": keys[i],
            "api_secret": f"${{GKFP_SECRET_{i}}}",
        }
        (active / f"bot{i:02d}.json").write_text(json.dumps(body))
    return env


def gk(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GK, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def status(env: dict[str, str], cwd: Path) -> list[dict[str, object]]:
    done = gk("status", "--json", env=env, cwd=cwd)
    if done.returncode != 0:
        raise RuntimeError(f"gridkeeper status exited {done.returncode}: {done.stderr[-500:]}")
    rows: list[dict[str, object]] = json.loads(done.stdout)
    return rows


def grid_answers(home: Path, port: int, name: str) -> bool:
    """The bot's control API answers `/api/grid` (it has read the market and placed its grid)."""
    try:
        token = (home / "tokens" / f"{name}.token").read_text().strip()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/api/grid", headers={"Authorization": f"Bearer {token}"})
        answer = conn.getresponse()
        body = json.loads(answer.read())
        conn.close()
        return answer.status == 200 and bool(body.get("open_orders"))
    except (OSError, ValueError, http.client.HTTPException):
        return False


# --- measuring ------------------------------------------------------------------------------


def children_map() -> dict[int, list[int]]:
    from gridkeeper.proctree import children_map as build

    return build()


def tree(pid: int, kids: dict[int, list[int]]) -> list[int]:
    out, stack = [pid], list(kids.get(pid, ()))
    while stack:
        child = stack.pop()
        out.append(child)
        stack.extend(kids.get(child, ()))
    return out


def _kib(path: str, key: str) -> int | None:
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


@dataclass
class Usage:
    rss_mib: float = 0.0
    pss_mib: float | None = 0.0
    threads: int = 0
    ticks: int = 0
    processes: int = 0


def usage(pids: list[int]) -> Usage:
    out = Usage()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        out.processes += 1
        out.ticks += int(fields[11]) + int(fields[12])
        out.threads += int(fields[17])
        out.rss_mib += int(fields[21]) * PAGE / 2**20
        pss = _kib(f"/proc/{pid}/smaps_rollup", "Pss:")
        if pss is None or out.pss_mib is None:
            out.pss_mib = None
        else:
            out.pss_mib += pss / 1024
    return out


@dataclass
class Row:
    name: str
    pid: int
    use: Usage
    cpu_pct: float = 0.0


def measure(programs: dict[str, int], window: float) -> list[Row]:
    """Each program's process tree: memory now, CPU% over `window`."""
    kids = children_map()
    trees = {name: tree(pid, kids) for name, pid in programs.items()}
    # The keeper's tree holds every instance: count only the keeper process itself for it.
    trees["keeper"] = [programs["keeper"]]
    before = {name: usage(pids) for name, pids in trees.items()}
    time.sleep(window)
    rows = []
    for name, pids in trees.items():
        after = usage(pids)
        cpu = 100.0 * (after.ticks - before[name].ticks) / TICKS / window
        rows.append(Row(name, programs[name], after, cpu))
    return rows


def floor(count: int, env: dict[str, str]) -> Usage:
    """`count` bare interpreters running side by side (they share the interpreter's pages just
    as the stack's processes do): the least that many Python processes can cost."""
    procs = [
        subprocess.Popen([str(PYTHON), "-c", "import time; time.sleep(600)"], env=env)
        for _ in range(count)
    ]
    try:
        time.sleep(1.5)
        return usage([p.pid for p in procs])
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


# --- import costs ---------------------------------------------------------------------------


def parse_importtime(lines: list[str]) -> tuple[float, list[tuple[str, float]]]:
    """(total ms, [(top-level package, self ms)] largest first) of one `-X importtime` log."""
    per: dict[str, float] = defaultdict(float)
    total = 0.0
    for line in lines:
        m = IMPORT_LINE.search(line)
        if m is None:
            continue
        self_us, _cum, _indent, module = m.groups()
        per[module.split(".")[0]] += int(self_us) / 1000
        total += int(self_us) / 1000
    return total, sorted(per.items(), key=lambda kv: -kv[1])


def instance_imports(home: Path, name: str) -> list[str]:
    """The `import time:` lines an instance wrote to stderr (its log files)."""
    lines: list[str] = []
    folder = home / "logs" / name
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        if path.suffix == ".gz" or not path.is_file():
            continue
        with contextlib.suppress(OSError):
            lines += [
                ln for ln in path.read_text(errors="replace").splitlines() if "import time:" in ln
            ]
    # A line may appear in both the plain and the errors log: keep one of each.
    return list(dict.fromkeys(lines))


def fresh_imports(code: str, env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [str(PYTHON), "-X", "importtime", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stderr.splitlines()


KEEPER_IMPORTS = (
    "import sys; sys.modules['ssl'] = None; import gridkeeper.cli.fast, gridkeeper.keeper.daemon"
)


# --- the run --------------------------------------------------------------------------------


def sweep(tag: str) -> list[str]:
    killed = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                if f"{MARKER}={tag}".encode() not in fh.read().split(b"\0"):
                    continue
            os.kill(int(name), signal.SIGKILL)
            killed.append(name)
        except OSError:
            continue
    return killed


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report(rows: list[Row], base: Usage, imports: dict[str, list[str]], bots: int) -> None:
    rows = sorted(rows, key=lambda r: (r.name != "keeper", r.name != "gridkeeper-monitor", r.name))
    header = ["program", "pid", "procs", "RSS MiB", "PSS MiB", "threads", "CPU%"]
    body = [
        [
            r.name,
            str(r.pid),
            str(r.use.processes),
            fmt(r.use.rss_mib),
            fmt(r.use.pss_mib),
            str(r.use.threads),
            f"{r.cpu_pct:.2f}",
        ]
        for r in rows
    ]
    rss = sum(r.use.rss_mib for r in rows)
    pss_known = all(r.use.pss_mib is not None for r in rows)
    pss = sum(r.use.pss_mib or 0.0 for r in rows) if pss_known else None
    procs = sum(r.use.processes for r in rows)
    body.append(
        [
            "TOTAL",
            "-",
            str(procs),
            fmt(rss),
            fmt(pss),
            str(sum(r.use.threads for r in rows)),
            f"{sum(r.cpu_pct for r in rows):.2f}",
        ]
    )
    body.append(
        [
            f"floor: {procs} x bare python",
            "-",
            str(base.processes),
            fmt(base.rss_mib),
            fmt(base.pss_mib),
            str(base.threads),
            "-",
        ]
    )
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    print()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"whole stack: keeper + monitor + paper exchange + {bots} grid bots; "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    for n, line in enumerate([header, *body]):
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))
    total, kind = (pss, "PSS") if pss is not None else (rss, "RSS")
    verdict = "met" if total <= TARGET_MIB else "MISSED"
    floor_total = base.pss_mib if pss is not None and base.pss_mib is not None else base.rss_mib
    print(
        f"\ntotal {kind} {total:.0f} MiB vs target <= {TARGET_MIB:.0f} MiB: {verdict}; "
        f"floor ({procs} bare interpreters) {floor_total:.0f} MiB, stack = "
        f"{total / floor_total:.1f}x floor; RSS total {rss:.0f} MiB (shared pages counted "
        "once per process)"
    )
    bot_rows = [r for r in rows if r.name.startswith("bot")]
    if bot_rows:
        per_bot = [r.use.pss_mib if r.use.pss_mib is not None else r.use.rss_mib for r in bot_rows]
        bot_rss = [r.use.rss_mib for r in bot_rows]
        bot_cpu = [r.cpu_pct for r in bot_rows]
        print(
            f"per grid bot: {kind} {min(per_bot):.1f}-{max(per_bot):.1f} MiB, "
            f"RSS {min(bot_rss):.1f}-{max(bot_rss):.1f} MiB, "
            f"CPU {min(bot_cpu):.2f}-{max(bot_cpu):.2f} %"
        )
    print("\ntop import costs (-X importtime, self time by top-level package)")
    for program, lines in imports.items():
        total_ms, per = parse_importtime(lines)
        if not per:
            print(f"  {program:16s} (no importtime output)")
            continue
        top = ", ".join(f"{name} {ms:.0f}" for name, ms in per[:7])
        print(f"  {program:16s} {total_ms:6.0f} ms: {top}")


def start_and_settle(project: Path, home: Path, env: dict[str, str], bots: int) -> list[str]:
    """`start -d`, then wait until every instance runs and each bot shows its grid; the
    start command's stderr."""
    done = gk("start", "-d", env=env, cwd=project, timeout=300)
    if done.returncode != 0:
        tail = [ln for ln in done.stderr.splitlines() if "import time:" not in ln][-20:]
        raise RuntimeError("gridkeeper start -d failed:\n" + "\n".join(tail))
    quiet = {k: v for k, v in env.items() if k != "PYTHONPROFILEIMPORTTIME"}
    deadline = time.monotonic() + 180
    while True:
        rows_now = status(quiet, project)
        named = [r for r in rows_now if str(r["name"]).startswith("bot")]
        running = all(r["state"] == "running" for r in rows_now)
        answering = [r for r in named if grid_answers(home, int(str(r["port"])), str(r["name"]))]
        if running and len(answering) == bots and len(rows_now) == bots + 2:
            return done.stderr.splitlines()
        if time.monotonic() > deadline:
            states = {str(r["name"]): r["state"] for r in rows_now}
            raise RuntimeError(f"the stack did not settle: {states}; {len(answering)} bots answer")
        time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=10)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds after all answer")
    parser.add_argument("--window", type=float, default=10.0, help="CPU window, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="gkfoot-"))
    tag = str(base)
    project, home = base / "project", base / "home"
    home.mkdir()
    exchange_port = free_port()
    secrets = write_project(project, args.bots, exchange_port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDKEEPER_")}
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env.update(secrets)
    env.update({MARKER: tag, "GRIDKEEPER_HOME": str(home)})
    # The import profiles come from a second start of the same stack: with
    # PYTHONPROFILEIMPORTTIME set, a program keeps reporting imports made at run time (into its
    # log, i.e. through the keeper), which would disturb the footprint measured in the first.
    profiled = {**env, "PYTHONPROFILEIMPORTTIME": "1"}
    failed = 0
    rows: list[Row] = []
    base_use = Usage()
    imports: dict[str, list[str]] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        log(f"work dir {base}; starting the stack ({args.bots} bots)")
        start_and_settle(project, home, env, args.bots)
        log(f"all running, every bot has its grid; settling {args.settle:.0f}s")
        time.sleep(args.settle)
        keeper_pid = int((home / "keeper.pid").read_text().split()[0])
        programs = {"keeper": keeper_pid}
        programs |= {str(r["name"]): int(str(r["pid"])) for r in status(env, project)}
        log(f"measuring ({args.window:.0f}s CPU window)")
        rows = measure(programs, args.window)
        count = sum(r.use.processes for r in rows)
        log(f"floor: {count} bare interpreters")
        base_use = floor(count, env)
        gk("shutdown", env=env, cwd=project, timeout=120)
        log("import profiles: the same stack again with PYTHONPROFILEIMPORTTIME")
        imports["CLI (start -d)"] = start_and_settle(project, home, profiled, args.bots)
        imports["CLI (status)"] = fresh_imports(
            "import sys; sys.argv = ['gridkeeper', 'status', '--home', '/nonexistent']; "
            "import gridkeeper.cli.fast as f; f.status(sys.argv[2:])",
            env,
        )
        imports["keeper"] = fresh_imports(KEEPER_IMPORTS, env)
        for name in ("gridkeeper-monitor", "paper-exchange", "bot00"):
            imports[name] = instance_imports(home, name)
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc or 'Ctrl-C'}): cleaning up")
        failed = 130
    except Exception as exc:
        log(f"ERROR: {type(exc).__name__}: {exc}")
        failed = 1
    finally:
        with contextlib.suppress(Exception):
            gk("shutdown", env=env, cwd=project, timeout=120)
        leftovers = sweep(tag)
        if leftovers:
            log(f"killed leftovers: {', '.join(leftovers)}")
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    if rows:
        report(rows, base_use, imports, args.bots)
    return failed


if __name__ == "__main__":
    sys.exit(main())
