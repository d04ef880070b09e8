"""An instance's probes and limits: confirm a start (startsecs, then the health probe until its
grace runs out), probe health while it runs, and count memory and CPU limit breaches from the
supervisor's samples. A failure asks the machine for a restart; the machine decides."""

from __future__ import annotations

import asyncio
import time

from gridkeeper.keeper.health import probe
from gridkeeper.keeper.instance_core import InstanceCore
from gridkeeper.keeper.machine import Event
from gridkeeper.keeper.sampling import Usage


class ProbesAndLimits(InstanceCore):
    """The watching half of an instance (see keeper/instance.py)."""

    async def _confirm_start(self, generation: int) -> None:
        await asyncio.sleep(self.cfg.daemon.startsecs)
        if generation != self._generation or self.m.phase != "starting":
            return
        check = self.cfg.health
        if check is not None:
            deadline = time.monotonic() + check.start_grace_s
            while True:
                ok, reason = await probe(check, self.cfg.cwd, self._expected_identity())
                if generation != self._generation or self.m.phase != "starting":
                    return
                if ok:
                    self.health = "healthy"
                    break
                if time.monotonic() >= deadline:
                    self.health = f"unhealthy: {reason}"
                    self._restart_for("start_failed", f"health probe never passed: {reason}")
                    return
                await asyncio.sleep(min(0.5, check.timeout_s))
        self.feed(Event("confirmed"))

    # ------------------------------------------------------------------ probes and limits
    async def watch(self) -> None:
        """Probe health while the instance lives (one task per instance)."""
        while True:
            await asyncio.sleep(self.cfg.daemon.health_check_interval)
            if self.pid is not None and self.state == "running" and self.cfg.health:
                try:
                    await self._probe_once()
                except Exception as exc:  # logged; the next interval probes again
                    self.host.task_failed(f"{self.name}: health probe", exc)

    async def _probe_once(self) -> None:
        check = self.cfg.health
        assert check is not None
        generation = self._generation
        ok, reason = await probe(check, self.cfg.cwd, self._expected_identity())
        if generation != self._generation or self.state != "running":
            return
        if ok:
            if self.health_failures:
                self._host_emit(self.name, "health_recovered", f"{self.name} healthy again")
            self.health_failures = 0
            self.health = "healthy"
            return
        self.health_failures += 1
        self.health = f"failing ({self.health_failures}/{check.failures}): {reason}"
        if self.health_failures == 1:
            self._host_emit(
                self.name, "health_failing", f"{self.name}: {reason}", {"reason": reason}
            )
        if self.health_failures >= check.failures:
            self._restart_for("health", f"{check.failures} failed health probes: {reason}")

    def has_limits(self) -> bool:
        """Whether this instance has a memory or CPU limit the sampler must enforce."""
        d = self.cfg.daemon
        return d.memory_limit_mb is not None or d.cpu_limit_percent is not None

    def sample(self, usage: Usage | None, *, check_limits: bool) -> None:
        """Take the process tree's figures (the supervisor measures every instance in one /proc
        pass) and, for the timer's samples, count limit breaches."""
        if self.pid is None or self.state not in ("starting", "running") or usage is None:
            return
        self.rss_mb, self.cpu_percent = usage.rss_mb, usage.cpu_percent
        if not check_limits:
            return
        for breach in self.limits.observe(self.cfg.daemon, self.rss_mb, self.cpu_percent):
            self._host_emit(
                self.name,
                f"{breach.kind}_limit",
                f"{self.name}: {breach.message}",
                {"value": breach.value, "limit": breach.limit},
            )
            if breach.restart:
                self._restart_for(breach.kind, f"{breach.kind} limit exceeded")
