"""Running the paper exchange under uvicorn, in the foreground or in a thread (tests)."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import uvicorn

from gridkeeper.config.paper_exchange import PaperExchangeConfig
from gridkeeper.exchange.paper.app import build_app
from gridkeeper.exchange.paper.service import PaperExchange


def make_server(
    config: PaperExchangeConfig,
    home: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8686,
    config_dir: Path | None = None,
    sock: socket.socket | None = None,
) -> tuple[uvicorn.Server, PaperExchange]:
    exchange = PaperExchange(config, home, config_dir=config_dir)
    uv_config = uvicorn.Config(
        build_app(exchange),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        ws_ping_interval=config.ws_ping_interval_s,
        ws_ping_timeout=config.ws_ping_interval_s * 2,
        lifespan="on",
    )
    return uvicorn.Server(uv_config), exchange


class ServerThread:
    """A paper exchange on a free loopback port in a background thread (for tests, benchmarks)."""

    def __init__(self, config: PaperExchangeConfig, home: Path) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.server, self.exchange = make_server(config, home, port=self.port)
        self.thread = threading.Thread(target=self._run, name="paper-exchange", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self, timeout_s: float = 10.0) -> ServerThread:
        self.thread.start()
        deadline = threading.Event()
        waited = 0.0
        while not self.server.started:
            if not self.thread.is_alive() or waited > timeout_s:
                raise RuntimeError("paper exchange did not start")
            deadline.wait(0.01)
            waited += 0.01
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
