"""Health probes: HTTP GET, TCP connect, heartbeat-file age. Each checks one instance only.

The HTTP probe is a plain HTTP/1.1 GET over asyncio rather than httpx: it only needs a status
line from a bot on 127.0.0.1, and httpx would add megabytes to a daemon that should stay small.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit

from gridkeeper.keeper.spec import HealthSpec


async def http_status(url: str, timeout: float) -> int:
    """The status code of `GET url` (http:// only), the connection closed after it."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"unsupported probe URL {url!r}: use http://host:port/path")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    async def get() -> int:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        try:
            writer.write(
                f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                "User-Agent: gridkeeper-probe\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
            line = await reader.readline()
        finally:
            writer.close()
        fields = line.split()
        if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or not fields[1].isdigit():
            raise ValueError(f"not an HTTP response: {line[:60]!r}")
        return int(fields[1])

    return await asyncio.wait_for(get(), timeout)


async def probe(check: HealthSpec, cwd: Path) -> tuple[bool, str]:
    """Run one probe; (healthy, reason when not)."""
    try:
        if check.type == "http":
            assert check.url is not None
            status = await http_status(check.url, check.timeout_s)
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
