"""Health probes: HTTP GET, TCP connect, heartbeat-file age. Each checks one instance only."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from gridkeeper.config import HealthCheck


async def probe(check: HealthCheck, cwd: Path, client: httpx.AsyncClient) -> tuple[bool, str]:
    """Run one probe; (healthy, reason when not)."""
    try:
        if check.type == "http":
            assert check.url is not None
            response = await client.get(check.url, timeout=check.timeout_s)
            if response.status_code == 200:
                return True, ""
            return False, f"GET {check.url} returned {response.status_code}"
        if check.type == "tcp":
            assert check.port is not None
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(check.host, check.port), timeout=check.timeout_s
            )
            writer.close()
            await writer.wait_closed()
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
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        return False, f"{check.type} probe failed: {type(exc).__name__}: {exc}"
    return True, ""
