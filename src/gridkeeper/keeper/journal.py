"""The keeper's record of what happened: events (logged, stored in state.db, handed to
subscribers), instance rows, and background-task failures.

A state store that cannot write (a full disk) never stops the keeper: events and rows wait in
memory, a catch-up loop writes them once space returns, and status says the store is degraded.
The supervisor inherits this; it is the Host its instances record through.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from typing import Any

import orjson

from gridkeeper.keeper.instance import Instance
from gridkeeper.keeper.spec import instance_to_wire
from gridkeeper.keeper.state import StateStore

SUBSCRIBER_QUEUE = 10_000
CATCH_UP_EVERY = 1.0
MAX_UNWRITTEN = 10_000  # events kept in memory while the store cannot write
# What a state store that cannot write raises (a full disk: "database or disk is full").
STORE_ERRORS = (sqlite3.Error, OSError)


class EventJournal:
    """Events, instance rows and task failures (the supervisor sets these fields up)."""

    log: Any
    store: StateStore
    instances: dict[str, Instance]
    store_degraded: bool  # state.db could not be written (shown by status)
    task_failures: int
    _subscribers: set[asyncio.Queue[dict[str, Any] | None]]
    _unsaved: set[str]
    _unwritten_events: list[tuple[str, str, str, dict[str, Any] | None]]
    _dropped_events: int
    _catch_up: asyncio.Task[Any] | None
    _tasks: set[asyncio.Task[Any]]

    def emit(
        self, instance: str, kind: str, message: str, data: dict[str, Any] | None = None
    ) -> None:
        """Record an event and hand it to subscribers. A store that cannot write (a full disk)
        never stops the caller: the event waits in memory and is written when space returns."""
        level = "error" if kind in ("crashed", "fatal", "contain_failed") else "info"
        self._log(level, message, name=instance, kind=kind, **(data or {}))
        if self._unwritten_events:
            self._queue_event(instance, kind, message, data)  # keep the order
            return
        try:
            event = self.store.add_event(instance, kind, message, data)
        except STORE_ERRORS as exc:
            self._store_failed(exc)
            self._queue_event(instance, kind, message, data)
            return
        self._publish(event)

    def _log(self, level: str, message: str, **fields: Any) -> None:
        with contextlib.suppress(Exception):  # the log sink never raises, but be sure
            getattr(self.log, level)(message, **fields)

    def _queue_event(
        self, instance: str, kind: str, message: str, data: dict[str, Any] | None
    ) -> None:
        if len(self._unwritten_events) >= MAX_UNWRITTEN:
            self._dropped_events += 1
            return
        self._unwritten_events.append((instance, kind, message, data))

    def _store_failed(self, exc: BaseException) -> None:
        if not self.store_degraded:
            self._log("error", "state store cannot write; acting anyway", error=str(exc))
        self.store_degraded = True
        self._ensure_catch_up()

    def _ensure_catch_up(self) -> None:
        if self._catch_up is None or self._catch_up.done():
            self._catch_up = self.spawn_task(self._catch_up_loop(), "state store catch-up")

    async def _catch_up_loop(self) -> None:
        """Write what could not be written, once a second, until everything is on disk."""
        while self.store_degraded:
            await asyncio.sleep(CATCH_UP_EVERY)
            self.flush_store()

    def flush_store(self) -> bool:
        """Write the instances and events a failing store left in memory; True when done."""
        try:
            for name in sorted(self._unsaved):
                inst = self.instances.get(name)
                if inst is not None:
                    self._save(inst)
                self._unsaved.discard(name)
            while self._unwritten_events:
                event = self.store.add_event(*self._unwritten_events[0])
                self._unwritten_events.pop(0)
                self._publish(event)
            if self._dropped_events:
                event = self.store.add_event(
                    "keeper",
                    "events_lost",
                    f"{self._dropped_events} events were lost while the state store could "
                    "not write",
                    {"count": self._dropped_events},
                )
                self._dropped_events = 0
                self._publish(event)
        except STORE_ERRORS:
            return False
        if self.store_degraded:
            self.store_degraded = False
            self._log("info", "state store writes again; caught up")
        return True

    def spawn_task(self, coro: Any, what: str) -> asyncio.Task[Any]:
        """A background task whose failure is logged, never lost."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                exc = t.exception()
                assert exc is not None
                self.task_failed(what, exc)

        task.add_done_callback(done)
        return task

    def task_failed(self, what: str, exc: BaseException) -> None:
        """Every background failure lands here: logged with its traceback, counted, and for
        the store, retried by the catch-up loop."""
        self.task_failures += 1
        if isinstance(exc, STORE_ERRORS):
            self._store_failed(exc)
            return
        self._log("error", f"{what} failed", exc_info=exc)

    def _publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # A subscriber that cannot keep up is cut off (its connection closes at the end
                # marker) and catches up from the state file when it reconnects with since_seq.
                self._subscribers.discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)

    def persist(self, inst: Instance) -> None:
        """Save an instance's row; on a failing store, remember it for the catch-up loop."""
        if self.store_degraded:
            self._unsaved.add(inst.name)
            self._ensure_catch_up()
            return
        try:
            self._save(inst)
        except STORE_ERRORS as exc:
            self._unsaved.add(inst.name)
            self._store_failed(exc)

    def _save(self, inst: Instance) -> None:
        self.store.save(
            inst.name,
            config=str(inst.cfg.path),
            desired=inst.desired,
            pid=inst.pid,
            identity=inst.identity if inst.pid else None,
            started_at=inst.started_at,
            restarts=inst.restarts,
            last_exit_code=inst.last_exit_code,
            last_exit=inst.last_exit,
            state=inst.state,
            # The config the process runs with, so a keeper restart can adopt it even when the
            # file changed or vanished meanwhile. Secrets stay out of the state file.
            spec=orjson.dumps({**instance_to_wire(inst.cfg), "secrets": []}).decode(),
            history=orjson.dumps(inst.history).decode(),
        )

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._subscribers.discard(queue)

    def subscriber_count(self) -> int:
        """Open `subscribe` streams (the monitor's, one per open dashboard): `ping` shows it."""
        return len(self._subscribers)
