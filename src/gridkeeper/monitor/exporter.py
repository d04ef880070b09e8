"""Prometheus exposition of the latest cycle's samples on <metrics_host>:<metrics_port>/metrics.

Built on prometheus_client: a custom Collector turns the snapshot the monitor's cycle produced
into metric families on every scrape (a scrape measures nothing itself and never reaches a bot),
and each Exporter has its own CollectorRegistry (no process-global registry: two monitors in one
process, as in the tests, never see each other's series). Besides our samples it serves
`gridkeeper_build_info{version}`, the monitor's own `process_*` metrics and the keeper's as
`gridkeeper_keeper_process_*` (both prometheus_client's ProcessCollector, read from /proc).
The HTTP server stays ours: it checks the Host header (DNS rebinding), which
prometheus_client's server does not.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client.exposition import choose_encoder, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from gridkeeper.httpguard import configured_hosts, host_allowed
from gridkeeper.monitor.samples import METRICS, Sample

log = logging.getLogger("gridkeeper.monitor")

PATH = "/metrics"
# Slow clients (the same limits as gridkeeper.slowclients, for this stdlib server): a request
# within 10 s of connecting, at most 16 connections (one thread each) at a time.
REQUEST_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 16


class BoundedHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a cap on connections: past it a new one is closed at once
    rather than given a thread (a flood of idle sockets would otherwise cost a thread and a
    descriptor each, for as long as the client likes)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class DeadlineHandler(BaseHTTPRequestHandler):
    """A request handler whose client must deliver its request head within REQUEST_TIMEOUT_S:
    a socket timeout bounds each read (an idle or stalled client), a timer the whole head (one
    that trickles a byte at a time and so never stalls a read for long)."""

    def setup(self) -> None:
        super().setup()
        # Each read's bound (read here, not at import: tests shorten it).
        self.connection.settimeout(REQUEST_TIMEOUT_S)
        self._deadline = threading.Timer(REQUEST_TIMEOUT_S, self._expire)
        self._deadline.daemon = True
        self._deadline.start()

    def parse_request(self) -> bool:
        parsed = super().parse_request()  # reads the headers
        self._deadline.cancel()  # the head has arrived
        return parsed

    def finish(self) -> None:
        self._deadline.cancel()
        super().finish()

    def _expire(self) -> None:
        with contextlib.suppress(OSError):  # already gone
            self.connection.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once


def build_version() -> str:
    import gridkeeper

    return str(gridkeeper.__version__)


class SnapshotCollector(Collector):
    """Metric families from the last snapshot of samples (swapped in whole by `update`)."""

    def __init__(self, version: str) -> None:
        self._samples: tuple[Sample, ...] = ()
        self._version = version

    def update(self, samples: Iterable[Sample]) -> None:
        self._samples = tuple(samples)  # one reference swap: a scrape sees one whole cycle

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "gridkeeper_build_info", "The running gridkeeper's version.", labels=["version"]
        )
        info.add_metric([self._version], 1.0)
        yield info
        by_name: dict[str, list[Sample]] = {}
        for s in self._samples:
            by_name.setdefault(s.name, []).append(s)
        for name in sorted(by_name):
            kind, help_text = METRICS.get(name, ("gauge", name))
            series = sorted(by_name[name], key=lambda x: x.labels)
            keys = sorted({k for s in series for k, _ in s.labels})
            family: GaugeMetricFamily | CounterMetricFamily
            if kind == "counter":
                # prometheus_client appends `_total` itself (and `_created` never: no timestamp).
                family = CounterMetricFamily(name.removesuffix("_total"), help_text, labels=keys)
            else:
                family = GaugeMetricFamily(name, help_text, labels=keys)
            for s in series:
                family.add_metric([s.label(k) for k in keys], s.value)
            yield family


def registry_for(collector: SnapshotCollector, keeper_pid: Any = None) -> CollectorRegistry:
    """A registry of its own: our snapshot, this process's and (when given) the keeper's."""
    registry = CollectorRegistry()
    registry.register(collector)
    ProcessCollector(registry=registry)
    if keeper_pid is not None:
        ProcessCollector(namespace="gridkeeper_keeper", pid=keeper_pid, registry=registry)
    return registry


def render(samples: Iterable[Sample], version: str = "test") -> str:
    """The text format of `samples` alone (no process metrics), as a scrape would see it."""
    collector = SnapshotCollector(version)
    collector.update(samples)
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode()


class Exporter:
    """Serves the latest snapshot; `update` swaps it in atomically."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.collector = SnapshotCollector(build_version())
        self._keeper_pid: int | None = None
        # A pid ProcessCollector cannot open yields no series: the keeper's are absent, not
        # stale, while it is down.
        self.registry = registry_for(self.collector, keeper_pid=lambda: self._keeper_pid)
        registry = self.registry
        # The address it was told to listen on is its own name too (a fleet's Prometheus
        # scrapes http://<metrics_host>:<port>); a wildcard bind needs GRIDKEEPER_ALLOWED_HOSTS.
        own = {host.lower()} if host not in ("0.0.0.0", "::", "") else set()
        extra_hosts = configured_hosts() | own

        class Handler(DeadlineHandler):
            def do_GET(self) -> None:
                # DNS rebinding: a page on evil.example resolved to 127.0.0.1 sends its own Host.
                if not host_allowed(self.headers.get("Host"), extra_hosts):
                    self.send_error(400, "Host header not allowed")
                    return
                if self.path.split("?")[0] != PATH:
                    self.send_error(404)
                    return
                # Prometheus asks for OpenMetrics in its Accept header; curl gets the text format.
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                body = encoder(registry)
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = BoundedHTTPServer((host, port), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-exporter", daemon=True
        )

    def start(self) -> Exporter:
        self._thread.start()
        return self

    def update(self, samples: Iterable[Sample], keeper_pid: int | None = None) -> None:
        self.collector.update(samples)
        self._keeper_pid = keeper_pid

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start_exporter(port: int, host: str) -> Exporter | None:
    """The exporter listening, or None (logged) when the port is taken."""
    try:
        return Exporter(port, host).start()
    except OSError as exc:
        # Another monitor (a second home on this host) or program has the port: alerting
        # matters more than the scrape endpoint, so the monitor runs on without it.
        log.warning(
            "metrics: cannot listen on %s:%d (%s); /metrics is off - set "
            "monitor.metrics_port to a free port (0 turns it off)",
            host,
            port,
            exc,
        )
        return None
