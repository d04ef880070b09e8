"""The keeper's Unix socket: newline-delimited JSON requests and replies (docs/architecture.md)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

import orjson

from gridkeeper.errors import ConfigError, GridkeeperError
from gridkeeper.keeper.names import ApiError
from gridkeeper.keeper.supervisor import Supervisor

MAX_REQUEST = 1 << 20


def _reply(ok: bool, payload: Any) -> bytes:
    body = {"ok": True, "result": payload} if ok else {"ok": False, "error": payload}
    return orjson.dumps(body, default=str) + b"\n"


async def serve(supervisor: Supervisor, path: Path) -> asyncio.AbstractServer:
    """Listen on `path` with mode 0600 from the first moment (umask around bind)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # we hold the home's lock: a socket file left here is stale
    old = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(
            lambda r, w: _client(supervisor, r, w), path=str(path), limit=MAX_REQUEST
        )
    finally:
        os.umask(old)
    path.chmod(0o600)
    return server


_CONNECTIONS: set[asyncio.StreamWriter] = set()


def close_connections() -> None:
    """Close every client connection (on shutdown: since Python 3.12 `wait_closed()` waits for
    them, and a subscriber never hangs up by itself)."""
    for writer in list(_CONNECTIONS):
        writer.close()


async def _client(
    supervisor: Supervisor, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    _CONNECTIONS.add(writer)
    try:
        while True:
            try:
                line = await reader.readline()
            except (ValueError, asyncio.LimitOverrunError):
                writer.write(_reply(False, {"code": "bad_request", "message": "request too long"}))
                break
            if not line:
                break
            try:
                request = orjson.loads(line)
                op = request["op"]
                args = request.get("args") or {}
                if not isinstance(op, str) or not isinstance(args, dict):
                    raise TypeError
            except (orjson.JSONDecodeError, KeyError, TypeError):
                writer.write(
                    _reply(False, {"code": "bad_request", "message": "expected {op, args} JSON"})
                )
                await writer.drain()
                continue
            if op == "subscribe":
                await _subscribe(supervisor, reader, writer, args.get("since_seq"))
                break
            writer.write(await _dispatch(supervisor, op, args))
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        _CONNECTIONS.discard(writer)
        with contextlib.suppress(Exception):
            writer.close()


async def _dispatch(supervisor: Supervisor, op: str, args: dict[str, Any]) -> bytes:
    try:
        return _reply(True, await supervisor.handle(op, args))
    except ApiError as exc:
        return _reply(False, {"code": exc.code, "message": str(exc)})
    except ConfigError as exc:
        return _reply(False, {"code": "config", "message": str(exc)})
    except TypeError as exc:
        return _reply(False, {"code": "bad_request", "message": f"bad arguments for {op}: {exc}"})
    except GridkeeperError as exc:
        return _reply(False, {"code": "failed", "message": str(exc)})
    except Exception as exc:
        supervisor.log.exception("request failed", op=op)
        return _reply(False, {"code": "failed", "message": f"{type(exc).__name__}: {exc}"})


async def _until_eof(reader: asyncio.StreamReader) -> None:
    """A subscriber has nothing more to say after `subscribe`: anything it sends is ignored."""
    while await reader.read(4096):
        pass


async def _subscribe(
    supervisor: Supervisor, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, since: Any
) -> None:
    queue = supervisor.subscribe()

    def hung_up(read: asyncio.Task[None]) -> None:
        # The subscriber's EOF means it went away. Without this a closed dashboard tab held
        # its subscription, queue and socket until the next event's write failed: on a quiet
        # keeper, indefinitely.
        if not read.cancelled():
            read.exception()  # a reset is a hang-up too
            supervisor.unsubscribe(queue)
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    hangup = asyncio.create_task(_until_eof(reader))
    hangup.add_done_callback(hung_up)
    try:
        writer.write(_reply(True, {"subscribed": True}))
        last = 0
        if isinstance(since, int):
            for event in supervisor.store.events(since, limit=100_000):
                writer.write(orjson.dumps({"event": event}) + b"\n")
                last = event["seq"]
        await writer.drain()
        while True:
            item = await queue.get()
            if item is None:
                break
            if item["seq"] <= last:
                continue
            writer.write(orjson.dumps({"event": item}) + b"\n")
            await writer.drain()
    finally:
        hangup.cancel()
        supervisor.unsubscribe(queue)
