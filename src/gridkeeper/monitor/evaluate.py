"""One sampling cycle's level rules: measurements and keeper status in, transitions out. No I/O.

Apart from the loop (service.py) so that what a cycle *decides* can be read, and tested, without
threads, sockets or monitor.db. The order of the rules is the order transitions are recorded and
notified in; the trading rules (grid reports) run after these, in the loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gridkeeper.monitor import conditions as cond
from gridkeeper.monitor.rules import AlertBook, Transition
from gridkeeper.monitor.samples import Sample

if TYPE_CHECKING:  # the monitor process never imports pydantic (monitor/settings_view.py)
    from gridkeeper.config.monitor import AlertRules


def cycle_transitions(
    book: AlertBook,
    rules: AlertRules,
    samples: Sequence[Sample],
    statuses: Sequence[Mapping[str, Any]] | None,
    net: Sequence[cond.NetResult],
    *,
    keeper_watched: bool,
    keeper_error: str,
    restarts: dict[str, int],
    now: float,
) -> list[Transition]:
    """Feed one cycle's observations to `book`; `statuses` is None when the keeper did not
    answer (or is not watched), `restarts` the per-instance restart counts seen so far
    (updated in place)."""
    out: list[Transition] = []
    for rule, observations in cond.host_observations(samples, rules).items():
        out += book.observe_all(rule, observations, now)
    if statuses is not None:
        out += book.observe_all(
            "instance_down", cond.instance_down_observations(statuses, rules), now
        )
        for obs in cond.restart_observations(statuses, restarts, rules):
            out += book.observe(obs, now)
        live = [(a.rule, a.subject) for a in book.alerts.values()]
        for obs in cond.status_clears(statuses, live):
            out += book.observe(obs, now)
        for obs in cond.keeper_write_observations(statuses, rules):
            out += book.observe(obs, now)
    out += book.observe_all("network_down", cond.network_observations(net, rules), now)
    if keeper_watched:
        for obs in cond.keeper_observation(not keeper_error, keeper_error, rules):
            out += book.observe(obs, now)
    return out
