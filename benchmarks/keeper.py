"""The keeper beside supervisord, supervising the same child, in one run.

1. Restart latency: `kill -9` of a supervised `/bin/sleep` until its replacement exists (a new
   child of the supervisor whose name is already `sleep`, i.e. after exec), polled every ~0.5 ms
   by diffing /proc; the same method for gridkeeper (restart_delay 0, startsecs 0), supervisord
   (autorestart, startsecs 0) and the raw floor (a Python loop that spawns and waits).
2. The supervisor process's RSS, threads and idle CPU with 20 sleeping instances (issue 14:
   idle CPU <= supervisord's, threads <= 2, RSS <= 0.8x supervisord).
3. `gridkeeper status` wall time with 20 instances beside `supervisorctl status`, and the floor
   `python -c pass` with the same interpreter; then the same comparison again with both cores
   busy (a load generator: one spinning process per CPU), target <= 0.3x in both.

Everything lives in a temp dir; every process the run starts carries a marker in its environment
and is killed at the end, even on error or Ctrl-C.

Run: .venv/bin/python benchmarks/keeper.py [--quick] [--kills N] [--instances N] [--keep]
(default ~2 minutes; --quick ~1 minute)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin").is_dir() else Path(sys.executable).parent
PYTHON = BIN / "python" if (BIN / "python").exists() else Path(sys.executable)
CHILD = ["/bin/sleep", "100000"]
CHILD_COMM = "sleep"
MARKER = "GKBENCH_RUN"  # every process we start inherits it: the final sweep finds leftovers
POLL_S = 0.0005
RESTART_TIMEOUT_S = 10.0
CMD_TIMEOUT_S = 60.0

# The raw floor: the least any supervisor written in Python can do between death and respawn.
FLOOR_LOOP = "import subprocess, sys\nwhile True:\n    subprocess.Popen(sys.argv[1:]).wait()\n"


# --- /proc scanning -------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, str, str] | None:
    """(ppid, comm, state) of a pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    # comm may hold spaces and parentheses: it ends at the last ')'.
    lpar, rpar = raw.find(b"("), raw.rfind(b")")
    fields = raw[rpar + 2 :].split()
    return int(fields[1]), raw[lpar + 1 : rpar].decode(errors="replace"), fields[0].decode()


def _pids() -> set[int]:
    return {int(name) for name in os.listdir("/proc") if name.isdigit()}


def live_children(parent: int) -> list[int]:
    """Live (non-zombie) `sleep` children of `parent`."""
    found = []
    for pid in _pids():
        info = _stat(pid)
        if info and info[0] == parent and info[1] == CHILD_COMM and info[2] != "Z":
            found.append(pid)
    return sorted(found)


def wait_children(parent: int, count: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        kids = live_children(parent)
        if len(kids) >= count:
            return kids
        if time.monotonic() > deadline:
            raise RuntimeError(f"pid {parent} has {len(kids)} of {count} children after {timeout}s")
        time.sleep(0.05)


def wait_replacement(parent: int, before: set[int], t0: float) -> float | None:
    """Seconds from t0 until a child of `parent` that did not exist before runs `sleep`.

    Only pids new since the last scan are read, so one poll costs a listdir of /proc; a new child
    of the parent that has not exec'd yet is re-read on the next poll.
    """
    seen = set(before)
    pending: set[int] = set()
    deadline = t0 + RESTART_TIMEOUT_S
    while True:
        now_pids = _pids()
        for pid in (now_pids - seen) | pending:
            info = _stat(pid)
            seen.add(pid)
            pending.discard(pid)
            if info is None or info[0] != parent:
                continue
            if info[1] == CHILD_COMM:
                return time.perf_counter() - t0
            pending.add(pid)  # forked, not exec'd yet
        if time.perf_counter() > deadline:
            return None
        time.sleep(POLL_S)


# --- the three rigs -------------------------------------------------------------------------


@dataclass
class Rig:
    name: str
    env: dict[str, str]
    pid: int = 0
    status_argv: list[str] = field(default_factory=list)
    cwd: Path | None = None

    def start(self, count: int) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class GridkeeperRig(Rig):
    def __init__(self, base: Path, env: dict[str, str]) -> None:
        self.project = base / "project"
        self.home = base / "home"
        env = {k: v for k, v in env.items() if k != "GRIDKEEPER_SETTINGS"}
        super().__init__("gridkeeper", {**env, "GRIDKEEPER_HOME": str(self.home)})
        self.cwd = self.project
        self.status_argv = [str(BIN / "gridkeeper"), "status"]

    def _gk(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "gridkeeper"), *args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CMD_TIMEOUT_S,
            check=False,
        )

    def start(self, count: int) -> None:
        active = self.project / "config" / "active"
        active.mkdir(parents=True)
        self.home.mkdir(parents=True)
        settings = {"monitor": {"enabled": False}}
        (self.project / "config" / "daemon_config.json").write_text(json.dumps(settings))
        for i in range(count):
            daemon = {
                "command": CHILD,
                "restart_delay": 0,
                "restart_delay_max": 0,
                "restart_jitter": 0,
                "startsecs": 0,
                "max_restart_attempts": 1000,  # the config's ceiling
                "restart_window_s": 1,
            }
            body = {"metadata": {"instance_id": f"b{i:02d}"}, "daemon_config": daemon}
            (active / f"b{i:02d}.json").write_text(json.dumps(body))
        done = self._gk("start", "-d")
        if done.returncode != 0:
            raise RuntimeError(f"gridkeeper start -d exited {done.returncode}:\n{done.stderr}")
        self.pid = int((self.home / "keeper.pid").read_text().split()[0])
        wait_children(self.pid, count, 30)

    def stop(self) -> None:
        if not self.pid:
            return
        pid, self.pid = self.pid, 0  # once: a second CLI command could start a new keeper
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._gk("shutdown")
        _wait_gone(pid, 10)


class SupervisordRig(Rig):
    def __init__(self, base: Path, env: dict[str, str]) -> None:
        super().__init__("supervisord", env)
        self.base = base
        self.conf = base / "supervisord.conf"
        self.popen: subprocess.Popen[bytes] | None = None
        self.status_argv = [str(BIN / "supervisorctl"), "-c", str(self.conf), "status"]
        self.cwd = base

    def start(self, count: int) -> None:
        logs = self.base / "logs"
        logs.mkdir(parents=True)
        sock = self.base / "supervisor.sock"
        self.conf.write_text(
            f"[unix_http_server]\nfile={sock}\nchmod=0700\n\n"
            f"[supervisord]\nlogfile={logs / 'supervisord.log'}\n"
            f"pidfile={self.base / 'supervisord.pid'}\nchildlogdir={logs}\nnodaemon=true\n\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
            f"[supervisorctl]\nserverurl=unix://{sock}\n\n"
            f"[program:b]\ncommand={' '.join(CHILD)}\n"
            "process_name=%(program_name)s%(process_num)02d\n"
            f"numprocs={count}\nautostart=true\nautorestart=true\nstartsecs=0\n"
            "startretries=1000000\nstopwaitsecs=5\n"
        )
        self.popen = subprocess.Popen(
            [str(BIN / "supervisord"), "-n", "-c", str(self.conf)],
            cwd=self.base,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.pid = self.popen.pid
        wait_children(self.pid, count, 30)
        # supervisorctl needs the socket, which comes up before the programs start.

    def stop(self) -> None:
        if self.popen is None:
            return
        popen, self.popen = self.popen, None
        popen.terminate()  # supervisord stops its programs, then exits
        try:
            popen.wait(20)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(5)


class FloorRig(Rig):
    def __init__(self, env: dict[str, str]) -> None:
        super().__init__("floor", env)
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self, count: int) -> None:
        self.popen = subprocess.Popen(
            [str(PYTHON), "-c", FLOOR_LOOP, *CHILD], env=self.env, stdin=subprocess.DEVNULL
        )
        self.pid = self.popen.pid
        wait_children(self.pid, 1, 30)

    def stop(self) -> None:
        if self.popen is None:
            return
        popen, self.popen = self.popen, None
        kids = live_children(popen.pid)
        popen.kill()  # first the loop, so nothing respawns the child
        popen.wait(5)
        for pid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def busy_cores(env: dict[str, str]) -> Iterator[None]:
    """One spinning process per CPU while the block runs (they carry the run's marker)."""
    spinners = [
        subprocess.Popen([str(PYTHON), "-c", "while True: pass"], env=env, stdin=subprocess.DEVNULL)
        for _ in range(os.cpu_count() or 2)
    ]
    try:
        time.sleep(0.5)  # let them reach full speed
        yield
    finally:
        for proc in spinners:
            proc.kill()
            proc.wait(5)


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        with contextlib.suppress(psutil.Error):
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def sweep(tag: str) -> list[str]:
    """SIGKILL every process that carries this run's marker; what was killed."""
    killed = []
    for proc in psutil.process_iter(["pid", "name"]):
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get(MARKER) != tag:
                continue
            proc.kill()
            killed.append(f"{proc.info['name']}[{proc.pid}]")
        except psutil.Error:
            continue
    return killed


# --- measurements ---------------------------------------------------------------------------


def restart_latencies(rig: Rig, kills: int, rng: random.Random) -> tuple[list[float], int]:
    """Milliseconds from kill -9 to the replacement's existence; and how many timed out."""
    out: list[float] = []
    lost = 0
    for _ in range(kills):
        victim = wait_children(rig.pid, 1, RESTART_TIMEOUT_S)[0]
        before = _pids()
        t0 = time.perf_counter()
        os.kill(victim, signal.SIGKILL)
        took = wait_replacement(rig.pid, before, t0)
        if took is None:
            lost += 1
        else:
            out.append(took * 1000)
        # A random gap, so a supervisor's polling tick is sampled at every phase.
        time.sleep(rng.uniform(0.2, 0.5))
    return out, lost


@dataclass
class Idle:
    rss_mb: float
    uss_mb: float
    cpu_pct: float
    cpu_ms: float  # CPU time used in the window; the kernel counts it in 10 ms ticks
    threads: int


def idle(pid: int, window: float) -> Idle:
    proc = psutil.Process(pid)
    mem = proc.memory_full_info()
    before = proc.cpu_times()
    time.sleep(window)
    after = proc.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return Idle(
        mem.rss / 2**20, mem.uss / 2**20, 100 * used / window, used * 1000, proc.num_threads()
    )


def wall_ms(argv: list[str], runs: int, env: dict[str, str], cwd: Path | None) -> list[float]:
    def once() -> float:
        t0 = time.perf_counter()
        done = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, timeout=CMD_TIMEOUT_S, check=False
        )
        took = (time.perf_counter() - t0) * 1000
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-500:]!r}")
        return took

    once()  # warm the page cache and any bytecode caches
    return [once() for _ in range(runs)]


# --- report ---------------------------------------------------------------------------------


def p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(value: float | None, unit: str = "") -> str:
    if value is None or value != value:
        return "-"
    if isinstance(value, int):
        return str(value)
    if abs(value) >= 100:
        return f"{value:.0f}{unit}"
    if abs(value) >= 10:
        return f"{value:.1f}{unit}"
    return f"{value:.2f}{unit}"


def ratio(ours: float, theirs: float) -> float | None:
    if theirs != theirs or ours != ours or theirs <= 0:
        return None
    return ours / theirs


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


# --- the run --------------------------------------------------------------------------------


@dataclass
class Figures:
    restart: dict[str, list[float]] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    idle: dict[str, Idle] = field(default_factory=dict)
    status: dict[str, list[float]] = field(default_factory=dict)
    status_loaded: dict[str, list[float]] = field(default_factory=dict)
    leftovers: list[str] = field(default_factory=list)


def run_rig(
    rig: Rig, args: argparse.Namespace, figures: Figures, rng: random.Random, count: int
) -> None:
    log(f"{rig.name}: starting {count} instance(s)")
    rig.start(count)
    time.sleep(args.settle)
    if count > 1:
        log(f"{rig.name}: idle for {args.window:.0f}s (RSS, CPU)")
        figures.idle[rig.name] = idle(rig.pid, args.window)
        if rig.status_argv:
            log(f"{rig.name}: {args.status_runs} x status")
            figures.status[rig.name] = wall_ms(rig.status_argv, args.status_runs, rig.env, rig.cwd)
            log(f"{rig.name}: {args.status_runs} x status with both cores busy")
            with busy_cores(rig.env):
                figures.status_loaded[rig.name] = wall_ms(
                    rig.status_argv, args.status_runs, rig.env, rig.cwd
                )
    else:
        figures.idle[rig.name] = idle(rig.pid, 1.0)
    log(f"{rig.name}: {args.kills} x kill -9")
    figures.restart[rig.name], figures.lost[rig.name] = restart_latencies(rig, args.kills, rng)


def log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


Trio = tuple[float | None, float | None, float | None]  # gridkeeper, supervisord, floor


def _row(label: str, figs: Trio, target: float | None, *, slack: float = 0.0) -> list[str]:
    """One metric; with a target, met when ours <= target x theirs (+ `slack` in ours' unit)."""
    ours, theirs, floor = figs
    value = ratio(ours, theirs) if ours is not None and theirs is not None else None
    shown = "-" if value is None else f"{value:.3f}"
    verdict = "-"
    if target is not None and ours is not None and theirs is not None:
        verdict = "met" if ours <= target * theirs + slack else "MISSED"
    return [
        label,
        fmt(ours),
        fmt(theirs),
        fmt(floor),
        shown,
        "-" if target is None else f"<= {target:g}",
        verdict,
    ]


def threads_row(figures: Figures) -> list[str]:
    """Threads: an absolute target (<= 2), supervisord for comparison."""
    found = [figures.idle[n].threads if n in figures.idle else None for n in NAMES]
    ours = found[0]
    verdict = "-" if ours is None else ("met" if ours <= MAX_THREADS else "MISSED")
    return ["threads", *(fmt(x) for x in found), "-", f"<= {MAX_THREADS} abs", verdict]


NAMES = ("gridkeeper", "supervisord", "floor")
MAX_THREADS = 2


def report(figures: Figures, args: argparse.Namespace) -> None:
    names = ("gridkeeper", "supervisord", "floor")

    def of(mapping: dict[str, list[float]], fn: Callable[[list[float]], float]) -> Trio:
        a, b, c = (fn(mapping[n]) if mapping.get(n) else None for n in names)
        return a, b, c

    def idle_of(attr: str) -> Trio:
        a, b, c = (getattr(figures.idle[n], attr) if n in figures.idle else None for n in names)
        return a, b, c

    lost = [figures.lost.get(n) for n in names]
    n_inst = f"{args.instances} inst"
    rows = [
        ["metric", *names, "gk/sv", "target", "verdict"],
        _row("restart median (ms)", of(figures.restart, med), 0.05),
        _row("restart p90 (ms)", of(figures.restart, p90), None),
        ["restart timeouts", *("-" if x is None else str(x) for x in lost), "-", "-", "-"],
        _row(f"RSS, {n_inst} (MiB)", idle_of("rss_mb"), 0.8),
        _row(f"USS, {n_inst} (MiB)", idle_of("uss_mb"), None),
        _row(f"idle CPU% ({args.window:.0f}s)", idle_of("cpu_pct"), None),
        # The kernel counts CPU time in 10 ms ticks: one tick either way is a tie, not a miss.
        _row(f"idle CPU ms ({args.window:.0f}s)", idle_of("cpu_ms"), 1.0, slack=10.0),
        threads_row(figures),
        _row(f"status median (ms, {n_inst})", of(figures.status, med), 0.3),
        _row("status p90 (ms)", of(figures.status, p90), None),
        _row("status median, cores busy (ms)", of(figures.status_loaded, med), 0.3),
        _row("status p90, cores busy (ms)", of(figures.status_loaded, p90), None),
    ]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print()
    print(
        f"keeper benchmark: {args.kills} kills, {args.instances} instances, {args.status_runs} "
        f"status runs; {os.cpu_count()} CPUs, load average {load}"
    )
    print(
        "floor: restart = a Python spawn-and-wait loop (RSS/CPU: that loop, 1 child); "
        "status = python -c pass; targets are gridkeeper / supervisord ratios (issue 14)"
    )
    print_table(rows)
    if figures.leftovers:
        print(f"leftover processes killed by the final sweep: {', '.join(figures.leftovers)}")
    else:
        print("no process left over after the supervisors' own shutdown")


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """SIGTERM/SIGHUP end the run through the same cleanup as Ctrl-C."""

    def raise_interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {sig: signal.signal(sig, raise_interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer kills, shorter windows")
    parser.add_argument("--kills", type=int, help="kill -9 per supervisor (default 20, quick 10)")
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--status-runs", type=int, help="default 15, quick 8")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()
    args.kills = args.kills or (10 if args.quick else 20)
    args.status_runs = args.status_runs or (8 if args.quick else 15)
    args.window = 10.0 if args.quick else 20.0
    args.settle = 3.0
    return args


def main() -> int:
    args = parse()
    base = Path(tempfile.mkdtemp(prefix="gkbench-"))
    tag = str(base)
    env = {**os.environ, MARKER: tag}
    rng = random.Random(3)
    figures = Figures()
    rigs: list[Rig] = []
    failed = 0
    have_supervisord = (BIN / "supervisord").exists() and (BIN / "supervisorctl").exists()
    try:
        with signals_raise():
            log(f"work dir {base}")
            floor = FloorRig(env)
            rigs.append(floor)
            run_rig(floor, args, figures, rng, 1)
            floor.stop()
            log(f"floor: {args.status_runs} x python -c pass")
            figures.status["floor"] = wall_ms(
                [str(PYTHON), "-c", "pass"], args.status_runs, env, base
            )
            with busy_cores(env):
                figures.status_loaded["floor"] = wall_ms(
                    [str(PYTHON), "-c", "pass"], args.status_runs, env, base
                )

            (base / "gk").mkdir()
            keeper = GridkeeperRig(base / "gk", env)
            rigs.append(keeper)
            run_rig(keeper, args, figures, rng, args.instances)
            keeper.stop()

            if have_supervisord:
                (base / "sv").mkdir()
                sup = SupervisordRig(base / "sv", env)
                rigs.append(sup)
                run_rig(sup, args, figures, rng, args.instances)
                sup.stop()
            else:
                log(f"supervisord is not installed in {BIN}: pip install -e '.[bench]'")
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc or 'Ctrl-C'}): cleaning up")
        failed = 130
    except Exception as exc:  # report what was measured, then clean up
        log(f"ERROR: {type(exc).__name__}: {exc}")
        failed = 1
    finally:
        for rig in reversed(rigs):
            with contextlib.suppress(Exception):
                rig.stop()
        figures.leftovers = sweep(tag)
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    report(figures, args)
    return failed


if __name__ == "__main__":
    sys.exit(main())
