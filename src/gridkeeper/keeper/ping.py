"""`python -m gridkeeper.keeper.ping [HOME]`: exit 0 when the keeper answers, 1 otherwise.

A container's HEALTHCHECK (and any probe): unlike `gridkeeper status`, it never starts a keeper.
"""

from __future__ import annotations

import sys

from gridkeeper.errors import KeeperUnavailable
from gridkeeper.keeper.client import KeeperClient
from gridkeeper.paths import resolve_home


def main(argv: list[str]) -> int:
    home = resolve_home(argv[0] if argv else None)
    try:
        answer = KeeperClient(home, timeout=5.0).ping()
    except KeeperUnavailable as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if answer is None:
        print(f"unhealthy: no keeper answers on {home}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
