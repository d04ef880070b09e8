"""The supervisor's resource samples: when to measure (on a timer while some instance has a
memory or CPU limit, on demand before a `status` answer) and handing each instance its figures.
One /proc pass measures every instance (keeper/sampling.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from gridkeeper.keeper.instance import Instance
from gridkeeper.keeper.sampling import Sampler

SAMPLE_EVERY = 5.0  # with a memory or CPU limit to enforce
IDLE_RECHECK = 30.0  # no limits: look again this often whether one appeared (a reload)
FRESH_ENOUGH = 1.0  # status reuses a sample this young


class ResourceSampling:
    """Resource sampling (the supervisor sets these fields up and starts the timer)."""

    instances: dict[str, Instance]
    _usage: Sampler
    _limits_changed: asyncio.Event  # an instance was registered: look again
    _sampled_at: float

    if TYPE_CHECKING:  # keeper/journal.py's, through the supervisor; no stub to shadow it

        def task_failed(self, what: str, exc: BaseException) -> None: ...

    async def _sample_forever(self) -> None:
        """Resource samples of every live instance from one /proc pass, every min(5 s, the
        shortest health_check_interval) while some instance has a memory or CPU limit. Without
        limits nothing needs them between two `status` requests (which sample on demand), so the
        keeper stays asleep until an instance is registered (start, reload), and looks every
        30 s in case a reload changed a running instance's limits."""
        while True:
            limited = [i for i in self.instances.values() if i.has_limits()]
            if not limited:
                self._limits_changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._limits_changed.wait(), IDLE_RECHECK)
                continue
            intervals = [i.cfg.daemon.health_check_interval for i in limited]
            await asyncio.sleep(min([SAMPLE_EVERY, *intervals]))
            try:
                self.sample(check_limits=True)
            except Exception as exc:  # one bad sample must not end sampling for good
                self.task_failed("resource sampling", exc)

    def sample(self, *, check_limits: bool) -> None:
        """Measure every live instance's process tree (one /proc pass for all of them). Only
        the timer's samples count towards `limit_samples`: a burst of `status` requests must
        not make a limit trip sooner."""
        live = [i for i in self.instances.values() if i.pid is not None]
        usage = self._usage.sample([i.pid for i in live if i.pid is not None])
        self._sampled_at = time.monotonic()
        for inst in live:
            if inst.pid is not None:
                inst.sample(usage.get(inst.pid), check_limits=check_limits)

    def refresh_usage(self) -> None:
        """Before a `status` answer: figures at most FRESH_ENOUGH old."""
        if time.monotonic() - self._sampled_at >= FRESH_ENOUGH:
            try:
                self.sample(check_limits=False)
            except Exception as exc:  # status answers with the last figures
                self.task_failed("resource sampling", exc)
