"""Health probes: HTTP GET, TCP connect, heartbeat-file age. Each checks one instance only.

The HTTP probe is a plain HTTP/1.1 GET over asyncio rather than httpx: it only needs a status
line from a bot on 127.0.0.1, and httpx would add megabytes to a daemon that should stay small.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from gridkeeper.keeper.spec import HealthSpec

MAX_ANSWER = 64 * 1024  # a /health answer is a few hundred bytes; read no more than this


@dataclass(frozen=True)
class Identity:
    """Who must answer an HTTP probe: the instance `name`, started with `nonce` (the keeper's
    GRIDKEEPER_START_NONCE for this spawn). `required`: an answer that does not say who it is
    fails (grid bots always say); otherwise only an answer naming someone else fails."""

    name: str
    nonce: str | None = None
    required: bool = False


def identity_problem(answer: Any, expected: Identity) -> str | None:
    """Why `answer` (the parsed /health body) is not from `expected`, or None when it is."""
    named = answer.get("instance") if isinstance(answer, dict) else None
    nonce = answer.get("nonce") if isinstance(answer, dict) else None
    if named is None:
        return "the answer does not name its instance" if expected.required else None
    if named != expected.name:
        return (
            f"the answer is from instance {named!r}, not {expected.name!r} "
            "(another process holds the port?)"
        )
    if expected.nonce is not None and nonce is not None and nonce != expected.nonce:
        return f"the answer is from another start of {expected.name!r} (stale process on the port?)"
    if expected.nonce is not None and nonce is None and expected.required:
        return "the answer carries no start nonce"
    return None


async def http_get(url: str, timeout: float) -> tuple[int, bytes]:
    """(status, body) of `GET url` (http:// only), the connection closed after it."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"unsupported probe URL {url!r}: use http://host:port/path")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    async def get() -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        try:
            writer.write(
                f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                "User-Agent: gridkeeper-probe\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
            line = await reader.readline()
            fields = line.split()
            if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or not fields[1].isdigit():
                raise ValueError(f"not an HTTP response: {line[:60]!r}")
            rest = b""
            while len(rest) < MAX_ANSWER:  # Connection: close, so the body ends at EOF
                chunk = await reader.read(MAX_ANSWER - len(rest))
                if not chunk:
                    break
                rest += chunk
        finally:
            writer.close()
        _, _, body = rest.partition(b"\r\n\r\n")
        return int(fields[1]), body

    return await asyncio.wait_for(get(), timeout)


async def http_status(url: str, timeout: float) -> int:
    """The status code of `GET url` (http:// only)."""
    return (await http_get(url, timeout))[0]


def _parse(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


async def probe(check: HealthSpec, cwd: Path, expected: Identity | None = None) -> tuple[bool, str]:
    """Run one probe; (healthy, reason when not). An HTTP probe with `expected` also fails when
    the answer is another instance's (or another start's)."""
    try:
        if check.type == "http":
            assert check.url is not None
            status, body = await http_get(check.url, check.timeout_s)
            if expected is not None:
                problem = identity_problem(_parse(body), expected)
                if problem is not None:
                    return False, f"GET {check.url}: {problem}"
            if status == 200:
                return True, ""
            return False, f"GET {check.url} returned {status}"
        if check.type == "tcp":
            assert check.port is not None
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(check.host, check.port), timeout=check.timeout_s
            )
            writer.close()
            return True, ""
        if check.type == "file":
            assert check.path is not None
            path = Path(check.path)
            if not path.is_absolute():
                path = cwd / path
            age = time.time() - path.stat().st_mtime
            if age <= check.max_age_s:
                return True, ""
            return False, f"heartbeat {path} is {age:.0f}s old (max {check.max_age_s:g}s)"
    except FileNotFoundError as exc:
        return False, f"heartbeat file missing: {exc.filename}"
    except TimeoutError:
        return False, f"{check.type} probe timed out after {check.timeout_s:g}s"
    except Exception as exc:
        return False, f"{check.type} probe failed: {type(exc).__name__}: {exc}"
    return True, ""
