"""The monitor's link to the keeper: its status and its event stream, through the keeper's socket
API (`gridkeeper.keeper.client`), with a short timeout on requests and a re-subscribing stream."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from gridkeeper.backoff import Backoff

log = logging.getLogger("gridkeeper.monitor")


def keeper_pid(home: Path) -> int | None:
    """The keeper's pid from `keeper.pid` (call it after the keeper answered, so it names a
    live keeper)."""
    try:
        return int((home / "keeper.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class KeeperLink:
    def __init__(self, home: Path, timeout: float, stop: threading.Event) -> None:
        self.home = home
        # A hung keeper (SIGSTOP) accepts the connection and never answers: without a short
        # timeout the cycle would wait forever and keeper_down would never fire.
        self.timeout = timeout
        self._stop = stop

    def _client(self, timeout: float | None = None) -> Any:
        from gridkeeper.keeper.client import KeeperClient

        return KeeperClient(self.home, timeout=timeout) if timeout else KeeperClient(self.home)

    def status(self) -> Sequence[Mapping[str, Any]]:
        result = self._client(self.timeout).request("status")
        return list(result) if result else []

    def first_seq(self) -> int | None:
        """Where a fresh monitor.db starts: just before the keeper's latest `keeper_started`.

        Subscribing from None would give only new events, losing those the keeper emitted
        before the monitor (its own built-in instance, started after them) subscribed.
        """
        events = self._client(self.timeout).request("events", limit=100, names=["keeper"])
        starts = [
            e["seq"]
            for e in events or []
            if e.get("kind") == "keeper_started" and isinstance(e.get("seq"), int)
        ]
        return max(starts) - 1 if starts else None

    def events(self, last_seq: Callable[[], int | None]) -> Iterator[Mapping[str, Any]]:
        """Subscribe, and re-subscribe from the last seen seq whenever the stream breaks."""
        retry = Backoff(1.0, 30.0)
        while not self._stop.is_set():
            try:
                since = last_seq()
                if since is None:
                    since = self.first_seq()
                # subscribe() blocks on its socket; it runs on the event thread only, so a hung
                # keeper never holds up the cycle (which has its own short-timeout client).
                for event in self._client().subscribe(since_seq=since):
                    retry.reset()
                    yield event
            except Exception as exc:
                log.warning("keeper event stream: %s: %s", type(exc).__name__, exc)
            self._stop.wait(retry.next())
