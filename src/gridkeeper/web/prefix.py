"""Serving under a path prefix behind a reverse proxy (`https://host/gridkeeper/`).

The prefix is `--root-path` when given, else the proxy's `X-Forwarded-Prefix` header. A proxy
may strip the prefix before passing the request on (nginx `proxy_pass http://.../;`) or not
(Caddy `handle /gk/*`): either way the app routes on the path below the prefix, and every URL
the page builds is relative, so one copy of the page works at any depth. The prefix only
shapes the URLs we send back (redirects, the cookie's path); it grants nothing.
"""

from __future__ import annotations

from gridkeeper.web.auth import ASGIApp, Receive, Scope, Send


def clean_prefix(raw: str) -> str:
    """`gk/` -> `/gk`; `/` and `` -> ``. Anything but a plain path is ignored."""
    raw = raw.strip()
    if not raw or any(c in raw for c in "\r\n\"'<>?#\\ ") or "//" in raw or ".." in raw:
        return ""
    return ("/" + raw.strip("/")) if raw.strip("/") else ""


class PrefixMiddleware:
    def __init__(self, app: ASGIApp, root_path: str = "") -> None:
        self.app = app
        self.root_path = clean_prefix(root_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        prefix = self.root_path
        if not prefix:
            for key, value in scope.get("headers", ()):
                if key == b"x-forwarded-prefix":
                    prefix = clean_prefix(value.decode("latin-1"))
                    break
        if prefix:
            scope = dict(scope)
            path = str(scope["path"])
            if path == prefix and scope["type"] == "http":
                # `/gk` -> `/gk/`: relative URLs in the page need the trailing slash.
                location = (prefix + "/").encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 308,
                        "headers": [(b"location", location)],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
            if not path.startswith(prefix + "/"):
                scope["path"] = prefix + path  # the proxy stripped it: routes see it the same
            scope["root_path"] = prefix
        await self.app(scope, receive, send)
