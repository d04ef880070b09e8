"""Bring back a keeper that died: the monitor outlives it (re-parented) and restarts it.

A keeper died (rather than was shut down) when nobody holds the home's lock (keeper.pid) but
its socket is still there: a clean exit removes the socket before it lets go of the lock, a
kill -9 or a crash cannot. A keeper that holds the lock but does not answer (SIGSTOP) is not
dead: that is the keeper_down alert's business, never a second keeper.

Starting goes through `ensure_keeper`, as the CLI's does: when a monitor, another monitor and a
CLI command all try at once, the new keepers race for the lock and only one wins; the others
report "already running". The keeper's `ping` says who started it (`started_by`), so only the
monitor whose keeper won says it restarted it.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from gridkeeper.backoff import Backoff
from gridkeeper.monitor.rules import Observation

log = logging.getLogger("gridkeeper.monitor")
CHECK_EVERY = 0.5  # a dead keeper is noticed within about this, and restarted at once
LEARN_EVERY = 10.0  # how often a live keeper is asked which settings file it runs with
RETRY_MAX = 30.0


def under_systemd() -> bool:
    """Whether we run inside a systemd unit (it sets INVOCATION_ID for the unit's processes).
    Then the unit's `Restart=` brings the keeper back: a keeper we started would live outside
    the unit's cgroup and make the unit's own restart fail on the lock."""
    return bool(os.environ.get("INVOCATION_ID"))


def dead_keeper(home: Path) -> str | None:
    """The pid (as keeper.pid says, or "?") of a keeper that died on `home`, or None when one
    holds the home or the last one exited cleanly (or none ever ran)."""
    from gridkeeper.keeper.client import PID_FILE, SOCKET, lock_holder

    if lock_holder(home) is not None or not (home / SOCKET).exists():
        return None
    try:
        pid = (home / PID_FILE).read_text().strip()
    except OSError:
        pid = ""
    return pid if pid.isdigit() else "?"


class KeeperWatch:
    """Checked from the monitor's loop; returns the alert to raise when it restarted one."""

    def __init__(self, home: Path, settings_path: Path | None) -> None:
        self.home = home
        # The keeper's own settings file (learned from its ping) wins over the monitor's.
        self.settings_path = settings_path
        self.tag = f"monitor (pid {os.getpid()})"
        self._next_check = 0.0
        self._next_learn = 0.0
        self._retry = Backoff(CHECK_EVERY, RETRY_MAX)
        self.restarts = 0

    def check(self) -> Observation | None:
        now = time.monotonic()
        if now < self._next_check:
            return None
        self._next_check = now + CHECK_EVERY
        try:
            old = dead_keeper(self.home)
            if old is None:
                self._retry.reset()
                if now >= self._next_learn:
                    self._next_learn = now + LEARN_EVERY
                    self._learn()
                return None
            return self._restart(old)
        except Exception:  # the watch must never take the monitor's loop down with it
            log.exception("watching the keeper failed")
            return None

    def _learn(self) -> None:
        from gridkeeper.keeper.client import KeeperClient

        try:
            info = KeeperClient(self.home, timeout=1.0).ping()
        except Exception:
            return  # hung or gone: the cycle's keeper_down check reports that
        if info and info.get("settings"):
            self.settings_path = Path(info["settings"])

    def _restart(self, old: str) -> Observation | None:
        from gridkeeper.errors import GridkeeperError
        from gridkeeper.keeper.client import ensure_keeper

        log.warning("the keeper (pid %s) is gone: starting a new one", old)
        try:
            info: dict[str, Any] = (
                ensure_keeper(self.home, self.settings_path, started_by=self.tag).ping() or {}
            )
        except GridkeeperError as exc:
            # Say it in the log; keeper_down fires if it stays down. Back off: a keeper that
            # cannot start (a broken settings file) must not be retried twice a second.
            self._next_check = time.monotonic() + self._retry.next()
            log.error("could not restart the keeper (pid %s was gone): %s", old, exc)
            return None
        new = info.get("pid")
        if info.get("started_by") != self.tag:
            log.info("the keeper (pid %s) was gone; another process restarted it: %s", old, new)
            return None
        self.restarts += 1
        summary = f"the keeper (pid {old}) was gone; the monitor restarted it (pid {new})"
        log.warning(summary)
        return Observation(
            rule="keeper_restarted",
            subject="keeper",
            active=True,
            level="warning",
            summary=summary,
            labels={"old_pid": old, "pid": str(new)},
            one_shot=True,
        )
