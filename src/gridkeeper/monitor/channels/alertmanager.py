"""Alertmanager: our alerts posted to its v2 API, so a fleet gets dedup, grouping, routing and
silences from the Alertmanager it already runs.

One notification becomes one alert in `POST /api/v2/alerts`. Alertmanager identifies an alert
by its labels, so the labels are stable for an alert's whole life: `alertname` (the rule),
`subject`, `severity` (our level), `host`, `instance` (the bot) or whatever the rule labels with
(`mountpoint`, `target`). A firing alert carries `endsAt` = now + `firing_ttl` (Alertmanager
would otherwise resolve it after its own `resolve_timeout`, 5 min, since we do not re-send it
every cycle as Prometheus does); a reminder renews it; the resolved notification sends the same
labels with `endsAt` = the time it resolved, which resolves it at once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from gridkeeper.monitor.channels.base import DeliveryError, rfc3339

if TYPE_CHECKING:  # the monitor process never imports pydantic (monitor/settings_view.py)
    from gridkeeper.config.monitor import AlertmanagerChannel

API_PATH = "/api/v2/alerts"


def to_alert(payload: dict[str, Any], config: AlertmanagerChannel, now: float) -> dict[str, Any]:
    """The Alertmanager alert for one of our notification payloads."""
    labels: dict[str, str] = dict(config.labels)
    labels.update({str(k): str(v) for k, v in (payload.get("labels") or {}).items()})
    labels.update(
        {
            "alertname": str(payload.get("rule", "")),
            "rule": str(payload.get("rule", "")),
            "subject": str(payload.get("subject", "")),
            "severity": str(payload.get("level", "")),
            "host": str(payload.get("host", "")),
            "source": "gridkeeper",
        }
    )
    labels = {k: v for k, v in labels.items() if v != ""}  # an empty label is no label
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": {
            "summary": str(payload.get("summary", "")),
            "alert_id": str(payload.get("alert_id", "")),
            "fingerprint": str(payload.get("fingerprint", "")),
        },
    }
    started = payload.get("fired_at") or payload.get("started_at")
    if started:
        alert["startsAt"] = started
    if payload.get("status") == "resolved":
        alert["endsAt"] = payload.get("resolved_at") or rfc3339(now)
    else:
        alert["endsAt"] = rfc3339(now + config.firing_ttl)
    if config.generator_url:
        alert["generatorURL"] = config.generator_url
    return alert


class AlertmanagerSender:
    name = "alertmanager"

    def __init__(self, config: AlertmanagerChannel) -> None:
        self.config = config
        self.min_level: str = config.min_level
        password = config.password.get_secret_value()
        auth = httpx.BasicAuth(config.username, password) if config.username else None
        self._client = httpx.Client(timeout=config.timeout, follow_redirects=False, auth=auth)

    def send(self, payload: dict[str, Any], delivery_id: str) -> None:
        body = orjson.dumps([to_alert(payload, self.config, time.time())])
        errors: list[str] = []
        statuses: list[int] = []
        # Every member of an HA cluster, as Prometheus does; one acceptance is enough (they
        # gossip), and the outbox retries when none accepts.
        for url in self.config.urls:
            target = url.rstrip("/") + API_PATH
            try:
                resp = self._client.post(
                    target, content=body, headers={"Content-Type": "application/json"}
                )
            except httpx.HTTPError as exc:
                errors.append(f"{url}: {type(exc).__name__}")
                continue
            if 200 <= resp.status_code < 300:
                return
            statuses.append(resp.status_code)
            errors.append(f"{url}: HTTP {resp.status_code} {resp.text[:200]}")
        # Permanent (a 400: a label we built is refused) only when every URL said so.
        status = statuses[0] if statuses and len(statuses) == len(self.config.urls) else None
        raise DeliveryError("alertmanager: " + "; ".join(errors), status=status)

    def close(self) -> None:
        self._client.close()
