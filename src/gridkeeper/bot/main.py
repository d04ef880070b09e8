"""The grid bot's process: what `gridkeeper bot --config FILE` (the keeper's grid instance) runs.

Lean on purpose (issue 14: a bot <= 40 MiB RSS): no click and no pydantic. The instance comes
from a resolver process (gridkeeper.bot.bot_config), the strategy config is a frozen
dataclass (gridkeeper.bot.params). cli/fast.py calls `main` directly; the click command too.

Exit codes: 0 after a graceful stop (SIGTERM/SIGINT; orders stay on the book and are adopted at
the next start), 78 for problems a restart cannot fix (bad config, refused keys, busy port,
insufficient funds), 1 for anything else (the keeper restarts it).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import logging
import os
import signal
import socket
import time
from collections.abc import AsyncIterable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from gridkeeper.bot.bot_config import BotConfig, load
from gridkeeper.bot.errors import BotFatal
from gridkeeper.bot.params import GridParams
from gridkeeper.logs import configure_logging, get_logger, log_event
from gridkeeper.logs.dropping import DroppingStream

DEMO_KEY_WAIT_S = 30.0
START_RETRY_S = 2.0

# The keeper's `keeper.process.NONCE_ENV`, spelled out: importing the keeper's module into every
# bot costs memory for one string (tests/unit/bot/test_footprint.py keeps the two equal).
NONCE_ENV = "GRIDKEEPER_START_NONCE"

log = get_logger("gridkeeper.bot")


def resolve_keys(inst: BotConfig, home: Path, *, wait_s: float) -> tuple[str, str]:
    """Configured keys, else (paper exchange only) the paper demo account from the home."""
    key, secret = inst.exchange.api_key, inst.exchange.api_secret
    if secret:
        return key, secret
    if inst.exchange_name != "paper":
        raise BotFatal(
            f"{inst.path}: exchange_config.api_secret is required for exchange "
            f"{inst.exchange_name!r} (set ${{BACKPACK_SECRET}})"
        )
    path = home / "paper" / "demo-account.json"
    deadline = time.monotonic() + wait_s
    while not path.exists():  # the paper exchange writes it at its first start
        if time.monotonic() > deadline:
            raise BotFatal(
                f"no keys configured and {path} does not exist (start the paper "
                "exchange first, or set exchange_config.api_key/api_secret)"
            )
        time.sleep(0.2)
    try:
        data = orjson.loads(path.read_bytes())
        return str(data["api_key"]), str(data["api_secret"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise BotFatal(f"{path}: not a demo account file ({exc})") from exc


def port_holder(port: int) -> str:
    """Who listens on 127.0.0.1:`port` (or any address), as `pid N (command line)`, for the
    error message; "an unknown process" when the system does not say (another user's)."""
    import psutil

    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return "an unknown process"
    for conn in conns:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return "a process of another user"
            try:
                cmd = " ".join(psutil.Process(conn.pid).cmdline())[:200]
            except (psutil.Error, OSError):
                cmd = "?"
            return f"pid {conn.pid} ({cmd})"
    return "an unknown process"


def bind(port: int) -> socket.socket:
    """The control API's listening socket; a busy port is a BotFatal (exit 78: a restart cannot
    free it) naming the port and who holds it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise BotFatal(
            f"web_port {port} on 127.0.0.1 is already in use by {port_holder(port)}: {exc.strerror}"
        ) from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _updates_factory(
    inst: BotConfig, key: str, secret: str
) -> Callable[[Callable[[], None]], AsyncIterable[object]] | None:
    """The websocket order stream, when the exchange package provides one."""
    try:
        stream_mod = importlib.import_module("gridkeeper.exchange.stream")
    except ModuleNotFoundError:
        return None
    exch = inst.exchange

    def make(on_gap: Callable[[], None]) -> AsyncIterable[object]:
        async def gap() -> None:
            on_gap()

        stream: AsyncIterable[object] = stream_mod.OrderUpdateStream(
            exch.ws_url, key, secret, symbol=inst.symbol, on_gap=gap
        )
        return stream

    return make


def _market_stream(inst: BotConfig) -> tuple[Any, asyncio.Task[None] | None]:
    """The streamed price and book top (a MarketView) and the task that keeps it current;
    the bot's poll reads it instead of REST while it is live (docs/footprint.md)."""
    from gridkeeper.exchange.market_stream import MarketStream, MarketView

    view = MarketView()
    # Backpack names its perps SYMBOL_PERP; only they have a mark price (and a stream of it).
    perp = inst.symbol.upper().endswith("_PERP")
    stream = MarketStream(inst.exchange.ws_url, inst.symbol, view, mark=perp)
    return view, asyncio.create_task(stream.run())


def _log(kind: str, message: str, data: dict[str, Any]) -> None:
    log_event(log, kind, message=message, **data)


async def serve(inst: BotConfig, home: Path, key: str, secret: str) -> int:
    import uvicorn

    from gridkeeper.bot.api import create_app, ensure_token
    from gridkeeper.bot.runner import BotRunner, BotSpec
    from gridkeeper.bot.store import Store, store_path
    from gridkeeper.exchange.client import BackpackClient
    from gridkeeper.exchange.errors import ExchangeError
    from gridkeeper.slowclients import server_options

    exch = inst.exchange
    sock = bind(inst.web_port)
    token = ensure_token(home, inst.name)
    store = Store(store_path(home, inst.name))
    client = BackpackClient(
        exch.base_url,
        key or None,
        secret,
        window_ms=exch.window_ms,
        timeout_s=exch.timeout_s,
        max_retries=exch.max_retries,
        transport=plain_transport(exch.base_url),
    )
    strategy = inst.strategy
    if strategy.order_quantity is None:
        strategy = await with_order_quantity(inst, client, store)
    spec = BotSpec(inst.name, home, inst.symbol, inst.strategy_kind, strategy)
    market, market_task = _market_stream(inst)
    runner = BotRunner(
        spec,
        client,
        store,
        on_event=_log,
        updates=_updates_factory(inst, key, secret),
        market=market,
    )
    server = _QuietServer(
        uvicorn.Config(
            create_app(runner, token, os.environ.get(NONCE_ENV)),
            lifespan="off",
            log_level="warning",
            access_log=False,
            # uvicorn's own handlers write straight to stderr: unredacted, and blocking once
            # a dead keeper's pipe is full. Without them its records reach the root logger,
            # i.e. our redacting, dropping pipeline.
            log_config=None,
            # Idle, half-sent and too many connections are closed (docs/bot-api.md): a few
            # hundred slowloris sockets would otherwise take the bot's descriptors.
            **server_options(),
        )
    )
    server_task = asyncio.create_task(server.serve(sockets=[sock]))
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    schedule_duration(loop, inst.strategy.duration_s, stopping)
    _log(
        "bot_listening",
        f"control API on http://127.0.0.1:{inst.web_port}",
        {"port": inst.web_port, "symbol": spec.symbol},
    )
    try:
        while not stopping.is_set():
            try:
                await runner.start()
                break
            except ExchangeError as exc:  # not reachable yet: keep trying, /health says why
                runner.exchange_error = str(exc)
                _log("exchange_error", f"start-up: {exc}", {"code": exc.code})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), START_RETRY_S)
        if not stopping.is_set():
            await runner.run(stopping)
        _log("bot_stopping", "stopping on signal; orders stay on the book", {})
        return 0
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await server_task
        if market_task is not None:
            market_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await market_task
        await client.aclose()
        store.close()


def plain_transport(base_url: str) -> Any:
    """For an http:// exchange (the paper exchange), a transport without the TLS trust store:
    httpx loads certifi's CA bundle into every client it builds (~1.2 MiB a bot), and this
    client only ever talks to its base URL, where no TLS is spoken. None (httpx's default,
    verifying certificates) for https://, i.e. Backpack."""
    if not base_url.lower().startswith("http://"):
        return None
    import httpx

    from gridkeeper.exchange.client import KEEPALIVE_S

    # The same pool limits BackpackClient gives its own transport (a transport passed in
    # replaces those): keep-alive below the server's, see exchange/client.py.
    return httpx.AsyncHTTPTransport(verify=False, limits=httpx.Limits(keepalive_expiry=KEEPALIVE_S))


async def with_order_quantity(inst: BotConfig, client: Any, store: Any) -> GridParams:
    """The seed's optional order_quantity: the saved grid's when there is one (the grid keeps its
    size across restarts), else derived from the balances now (see gridkeeper.bot.sizing)."""
    from gridkeeper.bot.sizing import derive_quantity

    saved = store.load()
    quantity = getattr(saved, "quantity", None) if saved is not None else None
    how = "kept with the saved grid"
    if quantity is None:
        market = await client.get_market(inst.symbol)
        ticker = await client.get_ticker(inst.symbol)
        balances = await client.get_balances()
        quote = balances.get(market.quote_symbol)
        base = balances.get(market.base_symbol)
        spot = str(market.market_type).upper() == "SPOT"
        quantity = derive_quantity(
            quote_available=quote.available if quote else Decimal(0),
            base_available=base.available if base else Decimal(0),
            price=ticker.last_price,
            grid_num=inst.strategy.grid_num,
            step_size=market.step_size,
            min_quantity=market.min_quantity,
            spot=spot,
        )
        how = "derived from the balances (equal share per level, 5% kept back)"
    _log(
        "order_quantity_derived",
        f"order_quantity {quantity}: {how}",
        {"order_quantity": str(quantity)},
    )
    return dataclasses.replace(inst.strategy, order_quantity=quantity)


def schedule_duration(
    loop: asyncio.AbstractEventLoop, duration_s: float | None, stopping: asyncio.Event
) -> None:
    """The seed's `duration`: after that many seconds the bot stops as on SIGTERM (exit 0)."""
    if duration_s is None:
        return

    def end() -> None:
        _log("bot_duration", f"duration {duration_s:g} s reached: stopping", {})
        stopping.set()

    loop.call_later(duration_s, end)


class _QuietServer:
    """uvicorn's server without its signal handling (the bot owns SIGTERM/SIGINT) and without
    its 100 ms housekeeping timer: uvicorn wakes ten times a second to refresh the Date header
    and look at `should_exit`; here it wakes once a second (the Date header's resolution) and
    at once when told to exit. Nine wake-ups a second less at rest (docs/footprint.md)."""

    def __init__(self, config: Any) -> None:
        import uvicorn

        exit_now = asyncio.Event()
        self._exit_now = exit_now

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Any:
                yield

            async def main_loop(self) -> None:
                tick = 0
                # on_tick refreshes the Date header when tick % 10 == 0 and returns
                # should_exit (or True past a request limit): uvicorn's own contract.
                while not await self.on_tick(tick):
                    tick = (tick + 10) % 864000
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(exit_now.wait(), 1.0)

        self._server = Server(config)

    @property
    def should_exit(self) -> bool:
        return bool(self._server.should_exit)

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._server.should_exit = value
        if value:
            self._exit_now.set()

    async def serve(self, sockets: list[socket.socket]) -> None:
        await self._server.serve(sockets=sockets)


def main(config_path: Path, home_dir: Path, settings_path: Path | None) -> int:
    """Run one grid bot with its control API on 127.0.0.1:<web_port>; raises BotFatal (exit
    78) for what no restart can fix, as the CLI reports it (`error: ...`)."""
    inst = load(config_path, settings_path)
    # Under the keeper stderr is a pipe: if the keeper dies nobody reads it, and a blocking
    # write would stop trading. The bot drops (and counts) log lines instead.
    stream = DroppingStream(2) if DroppingStream.wanted(2) else None
    # No structlog: nothing on the bot's path uses it, and it pulls in rich and pygments.
    configure_logging("info", redact=set(inst.secrets), stream=stream, route_structlog=False)  # type: ignore[arg-type]
    key, secret = resolve_keys(inst, home_dir, wait_s=DEMO_KEY_WAIT_S)
    configure_logging(
        "info",
        redact={*inst.secrets, secret},
        stream=stream,  # type: ignore[arg-type]
        route_structlog=False,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the events
    try:
        return asyncio.run(serve(inst, home_dir, key, secret))
    except BotFatal as exc:
        _log("bot_fatal", str(exc), {"exit_code": exc.exit_code})
        raise
    finally:
        if stream is not None:
            stream.drain(1.0)  # the last words (and any drop notice), if anyone reads
