"""A per-API-key rate limit: over budget, 429 `TOO_MANY_REQUESTS` with `Retry-After`.

A sliding window (a log of request times per key): a key may send `requests` requests in any
`window_s` seconds. Requests without `X-API-Key` count against the client address. The health
probe and the admin endpoints are exempt, so tests and the keeper can always reach them.
A pure ASGI middleware (no BaseHTTPMiddleware): with the limit off it is not installed at all.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable, Collection

import orjson
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from gridkeeper.config.paper_exchange import PaperExchangeConfig

EXEMPT_PREFIXES = ("/health", "/_paper/")
ORDER_PATHS = ("/api/v1/order", "/api/v1/orders")


class SlidingWindow:
    """Pure: whether one more request of `key` fits, and if not, how long until it would."""

    def __init__(
        self, requests: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.requests = requests
        self.window_s = window_s
        self.clock = clock
        self._log: dict[str, deque[float]] = {}

    def hit(self, key: str) -> float | None:
        """Count a request; None when allowed, else seconds to wait (not counted)."""
        now = self.clock()
        log = self._log.setdefault(key, deque())
        horizon = now - self.window_s
        while log and log[0] <= horizon:
            log.popleft()
        if len(log) >= self.requests:
            return log[0] - horizon
        log.append(now)
        return None


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: SlidingWindow,
        known_keys: Collection[str],
        stats: Counter[str],
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.known_keys = known_keys
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        key = ""
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                key = value.decode("latin-1")
                break
        # Only an account's own key gets its own budget: a made-up key would be a fresh budget
        # each time (a bypass) and grow the table without bound; those count per address.
        if key not in self.known_keys:
            client = scope.get("client")
            key = f"addr:{client[0] if client else '?'}"
        wait_s = self.limiter.hit(key)
        if wait_s is None:
            await self.app(scope, receive, send)
            return
        self.stats["rate_limited"] += 1
        if scope["path"] in ORDER_PATHS and scope["method"] in ("POST", "DELETE"):
            self.stats["rate_limited_orders"] += 1
        retry_after = max(1, math.ceil(wait_s))  # Retry-After is whole seconds
        message = f"Rate limit exceeded, retry in {retry_after}s"
        body = orjson.dumps({"code": "TOO_MANY_REQUESTS", "message": message})
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def rate_limit(
    config: PaperExchangeConfig, known_keys: Collection[str], stats: Counter[str]
) -> list[Middleware]:
    """The middleware list for `Starlette(middleware=...)`: empty when the limit is off.
    `stats` counts the 429s answered (`rate_limited`, of them on orders `rate_limited_orders`),
    which `GET /_paper/stats` shows."""
    cfg = config.unkind.rate_limit
    if not cfg.enabled:
        return []
    limiter = SlidingWindow(cfg.requests, cfg.window_s)
    return [Middleware(RateLimitMiddleware, limiter=limiter, known_keys=known_keys, stats=stats)]
