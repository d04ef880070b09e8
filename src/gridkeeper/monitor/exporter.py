"""Prometheus text exposition of the latest samples on <metrics_host>:<metrics_port>/metrics."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gridkeeper.httpguard import configured_hosts, host_allowed
from gridkeeper.monitor.samples import METRICS, Sample

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def render(samples: Iterable[Sample]) -> str:
    """The text format: HELP and TYPE once per metric, then one line per series."""
    by_name: dict[str, list[Sample]] = {}
    for s in samples:
        by_name.setdefault(s.name, []).append(s)
    lines: list[str] = []
    for name in sorted(by_name):
        kind, help_text = METRICS.get(name, ("gauge", name))
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for s in sorted(by_name[name], key=lambda x: x.labels):
            lab = ",".join(f'{k}="{_escape(v)}"' for k, v in s.labels)
            series = f"{name}{{{lab}}}" if lab else name
            lines.append(f"{series} {_number(s.value)}")
    return "\n".join(lines) + "\n"


class Exporter:
    """Serves the latest snapshot; `update` swaps it in atomically."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self._text = b""
        exporter = self
        # The address it was told to listen on is its own name too (a fleet's Prometheus
        # scrapes http://<metrics_host>:<port>); a wildcard bind needs GRIDKEEPER_ALLOWED_HOSTS.
        own = {host.lower()} if host not in ("0.0.0.0", "::", "") else set()
        extra_hosts = configured_hosts() | own

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                # DNS rebinding: a page on evil.example resolved to 127.0.0.1 sends its own Host.
                if not host_allowed(self.headers.get("Host"), extra_hosts):
                    self.send_error(400, "Host header not allowed")
                    return
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = exporter._text
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-exporter", daemon=True
        )

    def start(self) -> Exporter:
        self._thread.start()
        return self

    def update(self, samples: Iterable[Sample]) -> None:
        self._text = render(samples).encode()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
