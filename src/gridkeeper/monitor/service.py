"""The monitor loop: sample, check, evaluate, notify; and react to keeper events as they come.

Threads:
- the caller's thread runs `run()`: a sampling cycle every `interval`, and between cycles a
  half-second poll for what the CLI wrote (custom alerts, acks, silences) and alert timers;
- one thread consumes keeper events (crash, fatal, ...) so an instance's death is notified at
  once, not at the next cycle;
- the outbox's per-channel workers, and the exporter's HTTP server.

Keeper I/O is pluggable: `events` is any iterable of event dicts (the keeper's own shape) and
`status` any callable returning status objects. By default both come from the keeper's socket
through `gridkeeper.keeper.client.KeeperClient` (imported only then).
"""

from __future__ import annotations

import fnmatch
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridkeeper.gridreport import ReportReader
from gridkeeper.monitor import conditions as cond
from gridkeeper.monitor.channels.base import Channel
from gridkeeper.monitor.channels.factory import build_channels
from gridkeeper.monitor.collect import HostSampler, ProcessSampler
from gridkeeper.monitor.evaluate import cycle_transitions
from gridkeeper.monitor.exporter import Exporter, start_exporter
from gridkeeper.monitor.grid_rules import grid_observations
from gridkeeper.monitor.grids import GridProbe
from gridkeeper.monitor.journal import record_transitions
from gridkeeper.monitor.keeper_link import KeeperLink, keeper_pid
from gridkeeper.monitor.keeperwatch import KeeperWatch, under_systemd
from gridkeeper.monitor.lock import MonitorLock, monitor_running
from gridkeeper.monitor.netcheck import check_all, result_samples
from gridkeeper.monitor.outbox import Outbox, RetryPolicy
from gridkeeper.monitor.redact import hide_channel_urls
from gridkeeper.monitor.rules import AlertBook, Observation, Policy, Transition
from gridkeeper.monitor.samples import Sample, labels, stored
from gridkeeper.monitor.store import DAY, Store

if TYPE_CHECKING:  # the monitor process never imports pydantic (monitor/settings_view.py)
    from gridkeeper.config.monitor import MonitorSettings, NotificationSettings
    from gridkeeper.monitor.commands.poller import TelegramCommands

log = logging.getLogger("gridkeeper.monitor")
POLL = 0.5
PRUNE_EVERY = 3600.0
LAST_SEQ = "keeper_last_seq"

StatusSource = Callable[[], Sequence[Mapping[str, Any]]]
__all__ = ["MonitorService", "StatusSource", "monitor_running"]


class MonitorService:
    def __init__(
        self,
        home: Path,
        monitor: MonitorSettings,
        notifications: NotificationSettings,
        *,
        log_dir: Path | None = None,
        events: Iterable[Mapping[str, Any]] | None = None,
        status: StatusSource | None = None,
        channels: Sequence[Channel] | None = None,
        clock: Callable[[], float] = time.time,
        settings_path: Path | None = None,
    ) -> None:
        self.home = home
        self.settings = monitor
        self.rules = monitor.rules
        self.clock = clock
        self._use_keeper = events is None and status is None
        self._events = events
        self._status = status
        self._channels = list(channels) if channels is not None else None
        self._notifications = notifications
        self._paths = [home] + ([log_dir] if log_dir else [])
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._file_lock = MonitorLock(home / "monitor.lock")
        self._silences: list[str] = []
        self._restarts: dict[str, int] = {}
        self._last_samples: list[Sample] = []
        self._keeper_pid: int | None = None
        self._grids: GridProbe | None = None
        self._db_version = -1
        self._silence_ends = float("inf")  # earliest expiry among the silences in force
        self._last_prune = 0.0
        self._last_seq: int | None = None
        self._threads: list[threading.Thread] = []
        self._settings_path = settings_path
        self.keeper_watch: KeeperWatch | None = None
        self._reports = ReportReader(home)  # grid bots' trading reports (trading alerts)
        self._instance_states: dict[str, str] | None = None  # None: the keeper's view unknown
        self.store: Store | None = None
        self.outbox: Outbox | None = None
        self.exporter: Exporter | None = None
        self.commands: TelegramCommands | None = None
        r = self.rules
        self.book = AlertBook(
            Policy(
                repeat_interval=r.repeat_interval,
                resolve_after=r.resolve_after,
                flap_window=r.flap_window,
                flap_threshold=r.flap_threshold,
            ),
            silenced=self._silenced,
        )

    # -- life --------------------------------------------------------------------------------
    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self._file_lock.acquire()
        try:
            self._start()
        except BaseException:
            self._file_lock.release()
            raise

    def _start(self) -> None:
        now = self.clock()
        self.store = store = Store.open(self.home)
        self.book.restore(store.live_alerts(), store.fire_times(now - self.rules.flap_window))
        seq = store.get_meta(LAST_SEQ)
        self._last_seq = int(seq) if seq is not None else None
        hide_channel_urls(self._notifications)
        channels = self._channels
        if channels is None:
            channels = build_channels(self._notifications)
        n = self._notifications
        retry = RetryPolicy(n.retry_initial, n.retry_max, n.max_age_days * DAY)
        self.outbox = Outbox(store, channels, retry, clock=self.clock)
        self.outbox.start()
        if self.settings.metrics_port:
            self.exporter = start_exporter(self.settings.metrics_port, self.settings.metrics_host)
            if self.exporter is not None:  # the grids' numbers are for /metrics only
                self._grids = GridProbe(self.home)
        self._host = HostSampler(self._paths)
        self._procs = ProcessSampler()
        if self._use_keeper:
            if self.settings.restart_keeper and not under_systemd():
                self.keeper_watch = KeeperWatch(self.home, self._settings_path)
            link = KeeperLink(self.home, min(5.0, self.settings.interval), self._stop)
            self._status = link.status
            self._events = link.events(lambda: self._last_seq)
        if self._events is not None:
            t = threading.Thread(target=self._consume, name="monitor-events", daemon=True)
            t.start()
            self._threads.append(t)
        if n.telegram.commands:
            # Two-way Telegram (monitor/commands/poller.py says why it lives here).
            from gridkeeper.monitor.commands.poller import TelegramCommands

            self.commands = TelegramCommands(self.home, n.telegram, retry, clock=self.clock)
            self.commands.start()
        log.info("monitor started for %s with %d channel(s)", self.home, len(channels))

    def stop(self) -> None:
        self._stop.set()
        if self.commands is not None:
            self.commands.stop()
        if self.outbox is not None:
            self.outbox.stop()
        if self.exporter is not None:
            self.exporter.stop()
        if self._grids is not None:
            self._grids.close()
        for t in self._threads:
            t.join(1.0)  # a blocked keeper read must not hold up the exit; it is a daemon
        if self.store is not None:
            with self._lock:
                self.store.close()
        self._file_lock.release()

    def run(self, stop: threading.Event | None = None) -> None:
        """Start, loop until `stop` is set (or `self.stop()` is called), then stop."""
        stop = stop or self._stop
        self.start()
        try:
            next_cycle = 0.0
            while not stop.is_set() and not self._stop.is_set():
                try:
                    if time.monotonic() >= next_cycle:
                        next_cycle = time.monotonic() + self.settings.interval
                        self.cycle()
                    self.poll()
                    self.watch_keeper()
                except sqlite3.Error as exc:  # e.g. a full disk: keep watching, say so
                    log.error("monitor.db: %s", exc)
                stop.wait(min(POLL, max(0.0, next_cycle - time.monotonic())))
        finally:
            self.stop()

    # -- the sampling cycle ------------------------------------------------------------------
    def cycle(self) -> None:
        """One interval's work: measure, record, evaluate the level rules."""
        assert self.store is not None
        now = self.clock()
        samples = self._host.sample()
        statuses: Sequence[Mapping[str, Any]] | None = None
        keeper_error = ""
        if self._status is not None:
            try:
                statuses = self._status()
            except Exception as exc:
                keeper_error = f"{type(exc).__name__}: {exc}"
            samples.append(Sample("gridkeeper_keeper_up", 0.0 if keeper_error else 1.0))
        if statuses is not None:
            samples += self._procs.sample(statuses)
            if self._grids is not None:  # only the exporter uses them: no scrape, no probe
                samples += self._grids.sample(statuses)
        self._keeper_pid = keeper_pid(self.home) if statuses is not None else None
        net = check_all(self.settings.network_targets)
        samples += result_samples(net)
        with self._lock:
            try:
                self.store.add_samples([s for s in samples if stored(s)], now)
            except sqlite3.Error as exc:  # a full disk must not stop alerting
                log.error("cannot record samples: %s", exc)
            out = cycle_transitions(
                self.book,
                self.rules,
                samples,
                statuses,
                net,
                keeper_watched=self._status is not None,
                keeper_error=keeper_error,
                restarts=self._restarts,
                now=now,
            )
            if statuses is not None:
                self._instance_states = {str(s.get("name")): str(s.get("state")) for s in statuses}
            out += self._grid_alerts(now, every=True)
            self._apply(out)
            self._last_samples = samples
            if now - self._last_prune >= PRUNE_EVERY:
                try:
                    self._prune(now)
                except sqlite3.Error as exc:
                    log.error("cannot prune monitor.db: %s", exc)
        self._export()

    def poll(self) -> None:
        """Pick up what the CLI wrote (custom alerts, acks, silences) and advance timers."""
        assert self.store is not None
        now = self.clock()
        with self._lock:
            version = self.store.data_version()
            out: list[Transition] = []
            # An expiring silence writes nothing, so no other process's commit would tell us.
            if version != self._db_version or now >= self._silence_ends:
                self._db_version = version
                silences = self.store.active_silences(now)
                self._silences = [s["pattern"] for s in silences]
                self._silence_ends = min((s["expires_at"] for s in silences), default=float("inf"))
                for fp in self.store.acked_fingerprints():
                    self.book.ack(fp)
                rows = self.store.active_custom()
                out += self.book.observe_all(
                    "custom", cond.custom_observations(rows, self.rules), now
                )
            out += self._grid_alerts(now, every=False)
            out += self.book.tick(now)
            self._apply(out)

    def _grid_alerts(self, now: float, *, every: bool) -> list[Transition]:
        """The trading rules over the grid reports: each cycle (time-based rules age), and at
        each poll when a bot wrote its report (a pause is notified within a second)."""
        reports, changed = self._reports.read()
        if not (changed or every):
            return []
        try:
            observations = grid_observations(reports, self.rules, now, self._instance_states)
        except Exception:  # one odd report must not stop every other alert
            log.exception("cannot evaluate the grid reports")
            return []
        out: list[Transition] = []
        for rule, observed in observations.items():
            out += self.book.observe_all(rule, observed, now)
        return out

    def watch_keeper(self) -> None:
        """Restart a keeper that died, and say so (see monitor/keeperwatch.py)."""
        if self.keeper_watch is None:
            return
        obs = self.keeper_watch.check()
        if obs is not None:
            with self._lock:
                self._apply(self.book.observe(obs, self.clock()))

    # -- keeper events -----------------------------------------------------------------------
    def handle_event(self, event: Mapping[str, Any]) -> None:
        """Apply one keeper event at once (this is what makes a crash alert fast)."""
        assert self.store is not None
        seq = event.get("seq")
        with self._lock:
            if isinstance(seq, int):
                if self._last_seq is not None and seq <= self._last_seq:
                    return  # replayed after a reconnect: already seen
                self._last_seq = seq
            now = self.clock()
            out: list[Transition] = []
            for obs in cond.event_observations(event, self.rules):
                out += self.book.observe(obs, now)
            self._apply(out)
            if isinstance(seq, int):
                self.store.set_meta(LAST_SEQ, str(seq))

    def _consume(self) -> None:
        assert self._events is not None
        try:
            for event in self._events:
                if self._stop.is_set():
                    return
                try:
                    self.handle_event(event)
                except Exception:
                    log.exception("could not handle keeper event %r", event)
        except Exception:
            if not self._stop.is_set():
                log.exception("keeper event stream failed")

    # -- helpers -----------------------------------------------------------------------------
    def _silenced(self, rule: str, subject: str) -> bool:
        return any(
            fnmatch.fnmatchcase(rule, p) or fnmatch.fnmatchcase(f"{rule}:{subject}", p)
            for p in self._silences
        )

    def _apply(self, transitions: Iterable[Transition]) -> None:
        """Record firing/reminder/resolved transitions and queue the ones that notify."""
        assert self.store is not None and self.outbox is not None
        record_transitions(self.store, self.outbox, self.book, transitions)

    def _prune(self, now: float) -> None:
        assert self.store is not None
        self._last_prune = now
        s = self.settings
        self.store.prune(
            now,
            raw_days=s.raw_retention_days,
            rollup_days=s.rollup_retention_days,
            max_bytes=int(s.max_db_mb * 1024 * 1024),
        )

    def _export(self) -> None:
        if self.exporter is None or self.store is None:
            return
        extra = [Sample("gridkeeper_alerts_firing", float(len(self.firing())))]
        pending = self.store.outbox_pending_counts()
        if self.outbox is not None:
            for ch in self.outbox.channels:
                count = float(pending.get(ch.name, 0))
                extra.append(Sample("gridkeeper_outbox_pending", count, labels(channel=ch.name)))
        self.exporter.update([*self._last_samples, *extra], keeper_pid=self._keeper_pid)

    def firing(self) -> list[str]:
        with self._lock:
            return [a.fingerprint for a in self.book.alerts.values() if a.state == "firing"]

    def observe(self, obs: Observation) -> None:
        """Feed one observation directly (for embedding and tests of the wiring)."""
        with self._lock:
            self._apply(self.book.observe(obs, self.clock()))
