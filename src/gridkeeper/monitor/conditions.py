"""Turn samples, keeper status, keeper events and check results into `Observation`s. Pure.

Level conditions (host thresholds, instance down, network down, keeper down, custom alerts) are
returned as the *complete* set per rule, for `AlertBook.observe_all`. Keeper events set or clear
the event rules (crash, fatal, health, limits) for one instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gridkeeper.monitor.rules import Level, Observation
from gridkeeper.monitor.samples import Sample

if TYPE_CHECKING:  # the monitor process never imports pydantic (monitor/settings_view.py)
    from gridkeeper.config.monitor import AlertRules

# Instance states that mean "should run but does not"; `stopped` is the operator's choice.
DOWN_STATES = frozenset({"backoff", "exited", "fatal"})
INSTANCE_EVENT_RULES = (
    "instance_crashed",
    "instance_fatal",
    "instance_health",
    "instance_memory_limit",
    "instance_cpu_limit",
)
LEVEL_RULES = ("host_cpu", "host_memory", "host_disk", "instance_down", "network_down")


@dataclass(frozen=True)
class NetResult:
    """Outcome of one network check (after its retries)."""

    name: str
    up: bool
    latency_s: float | None
    attempts: int
    error: str = ""


def host_observations(samples: Iterable[Sample], rules: AlertRules) -> dict[str, list[Observation]]:
    """Threshold rules over the host samples of one cycle."""
    out: dict[str, list[Observation]] = {"host_cpu": [], "host_memory": [], "host_disk": []}
    for s in samples:
        # The samples are ratios (0-1, Prometheus's base unit); thresholds are set in percent.
        pct = s.value * 100.0
        if s.name == "gridkeeper_host_cpu_used_ratio" and rules.host_cpu.enabled:
            r = rules.host_cpu
            out["host_cpu"].append(
                Observation(
                    rule="host_cpu",
                    subject="host",
                    active=pct > r.threshold,
                    level=r.level,
                    summary=f"host CPU {pct:.0f}% above {r.threshold:.0f}%",
                    for_seconds=r.for_seconds,
                )
            )
        elif s.name == "gridkeeper_host_memory_used_ratio" and rules.host_memory.enabled:
            r = rules.host_memory
            out["host_memory"].append(
                Observation(
                    rule="host_memory",
                    subject="host",
                    active=pct > r.threshold,
                    level=r.level,
                    summary=f"host memory {pct:.0f}% used, above {r.threshold:.0f}%",
                    for_seconds=r.for_seconds,
                )
            )
        elif s.name == "gridkeeper_host_filesystem_used_ratio" and rules.host_disk.enabled:
            r = rules.host_disk
            mount = s.label("mountpoint")
            out["host_disk"].append(
                Observation(
                    rule="host_disk",
                    subject=mount,
                    active=pct > r.threshold,
                    level=r.level,
                    summary=f"filesystem {mount} {pct:.0f}% used, above {r.threshold:.0f}%",
                    for_seconds=r.for_seconds,
                    labels={"mountpoint": mount},
                )
            )
    return out


def instance_down_observations(
    statuses: Sequence[Mapping[str, Any]], rules: AlertRules
) -> list[Observation]:
    """`instance_down` for every instance the keeper reports."""
    r = rules.instance_down
    if not r.enabled:
        return []
    out = []
    for st in statuses:
        name = str(st.get("name", ""))
        state = str(st.get("state", ""))
        out.append(
            Observation(
                rule="instance_down",
                subject=name,
                active=state in DOWN_STATES,
                level=r.level,
                summary=f"instance {name} is not running (state {state})",
                for_seconds=r.for_seconds,
                labels={"instance": name},
            )
        )
    return out


def restart_observations(
    statuses: Sequence[Mapping[str, Any]], previous: dict[str, int], rules: AlertRules
) -> list[Observation]:
    """One-shot `instance_restarted` when a restart counter grew; updates `previous` in place."""
    out = []
    for st in statuses:
        name = str(st.get("name", ""))
        count = int(st.get("restarts") or 0)
        before = previous.get(name)
        previous[name] = count
        if before is not None and count > before and rules.instance_restarted.enabled:
            out.append(
                Observation(
                    rule="instance_restarted",
                    subject=name,
                    active=True,
                    level=rules.instance_restarted.level,
                    summary=f"instance {name} restarted ({count} restarts)",
                    labels={"instance": name},
                    one_shot=True,
                )
            )
    return out


def network_observations(results: Iterable[NetResult], rules: AlertRules) -> list[Observation]:
    r = rules.network_down
    if not r.enabled:
        return []
    return [
        Observation(
            rule="network_down",
            subject=res.name,
            active=not res.up,
            level=r.level,
            summary=f"network target {res.name} is down after {res.attempts} tries: {res.error}",
            for_seconds=r.for_seconds,
            labels={"target": res.name},
        )
        for res in results
    ]


def keeper_observation(up: bool, error: str, rules: AlertRules) -> list[Observation]:
    r = rules.keeper_down
    if not r.enabled:
        return []
    return [
        Observation(
            rule="keeper_down",
            subject="keeper",
            active=not up,
            level=r.level,
            summary=f"the keeper does not answer: {error}" if error else "the keeper is down",
            for_seconds=r.for_seconds,
        )
    ]


def keeper_write_observations(
    statuses: Sequence[Mapping[str, Any]], rules: AlertRules
) -> list[Observation]:
    """`keeper_store_degraded` and `log_lines_lost`, from what the keeper's status reports."""
    degraded = any(bool(st.get("state_store_degraded")) for st in statuses)
    lost = max((int(st.get("log_lines_lost") or 0) for st in statuses), default=0)
    out = []
    if rules.keeper_store_degraded.enabled:
        r = rules.keeper_store_degraded
        summary = "the keeper cannot write its state store (disk full?); it still controls "
        summary += "every process and catches up when space returns"
        out.append(
            Observation(
                rule="keeper_store_degraded",
                subject="keeper",
                active=degraded,
                level=r.level,
                summary=summary,
                for_seconds=r.for_seconds,
            )
        )
    if rules.log_lines_lost.enabled:
        r = rules.log_lines_lost
        out.append(
            Observation(
                rule="log_lines_lost",
                subject="keeper",
                active=lost > 0,
                level=r.level,
                summary=f"{lost} log lines could not be written (log disk full?)",
                for_seconds=r.for_seconds,
            )
        )
    return out


def custom_observations(rows: Iterable[Mapping[str, Any]], rules: AlertRules) -> list[Observation]:
    """Every raised (not yet resolved) custom alert; the rule is `custom`, the subject its name."""
    out = []
    for row in rows:
        level: Level = row.get("level") or rules.custom_level
        name = str(row["name"])
        out.append(
            Observation(
                rule="custom",
                subject=name,
                active=True,
                level=level,
                summary=str(row.get("message") or name),
                labels={"name": name},
                resolve_after=0.0,
            )
        )
    return out


LIMIT_RULES = ("instance_memory_limit", "instance_cpu_limit")


def status_clears(
    statuses: Sequence[Mapping[str, Any]], live: Iterable[tuple[str, str]]
) -> list[Observation]:
    """Event-rule alerts the keeper's status list shows are over, checked every cycle.

    An instance no longer listed (removed by a reload) or `stopped` (the operator acted) clears
    every event rule, even if its clearing event was missed. A limit alert clears while the
    instance runs: a limit with action "event" leaves it running, and no `running` event
    follows; a new limit event keeps it firing (it resets the clear timer).
    """
    states = {str(st.get("name", "")): str(st.get("state", "")) for st in statuses}
    out = []
    for rule, subject in live:
        if rule not in INSTANCE_EVENT_RULES:
            continue
        state = states.get(subject)
        if state is None or state == "stopped" or (rule in LIMIT_RULES and state == "running"):
            out.append(Observation(rule=rule, subject=subject, active=False))
    return out


def _event_rule(rules: AlertRules, rule: str) -> tuple[bool, Level]:
    r = getattr(rules, rule)
    return bool(r.enabled), r.level


def event_observations(event: Mapping[str, Any], rules: AlertRules) -> list[Observation]:
    """What one keeper event sets or clears."""
    kind = str(event.get("kind", ""))
    name = str(event.get("instance", ""))
    if not name or name == "keeper":
        return []
    message = str(event.get("message") or "")
    sets = {
        "crashed": "instance_crashed",
        "fatal": "instance_fatal",
        "health_failing": "instance_health",
        "memory_limit": "instance_memory_limit",
        "cpu_limit": "instance_cpu_limit",
    }
    clears: tuple[str, ...] = ()
    # `adopted`: a restarted keeper found the instance still running (no `health_recovered`
    # follows); `removed`: a reload dropped it, so nobody will ever report on it again.
    if kind in ("running", "adopted", "stopped", "removed"):
        clears = INSTANCE_EVENT_RULES
    elif kind == "health_recovered":
        clears = ("instance_health",)
    out: list[Observation] = []
    if kind in sets:
        rule = sets[kind]
        enabled, level = _event_rule(rules, rule)
        if enabled:
            what = kind.replace("_", " ")
            out.append(
                Observation(
                    rule=rule,
                    subject=name,
                    active=True,
                    level=level,
                    summary=f"instance {name} {what}: {message}" if message else f"{name} {what}",
                    labels={"instance": name},
                )
            )
    for rule in clears:
        out.append(Observation(rule=rule, subject=name, active=False))
    return out
