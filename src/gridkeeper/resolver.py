"""Running a config resolver: a short-lived `python -m gridkeeper.config.<x>_wire` that loads
and validates a file with pydantic and prints the resolved JSON. The long-lived processes that
only read a config (a grid bot, the monitor) take it from there and never import pydantic
(docs/footprint.md). Stdlib only: the bot and the monitor both use it.

The child inherits our environment (minus `drop_env`), so `${VAR}` in a file resolves as it
would here. Its stdout is the answer and may hold secrets: only the last line of its stderr
ever reaches an error message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

RESOLVE_TIMEOUT = 120.0


class ResolverFailed(Exception):
    """The resolver did not answer with JSON; the message says why (never its stdout)."""


def run_resolver(module: str, args: list[str], *, drop_env: tuple[str, ...] = ()) -> Any:
    """The JSON document `python -m MODULE ARGS...` prints."""
    # -P: `python -m` would put the cwd first on sys.path, and a json.py or decimal.py there
    # (the operator's directory) would be imported in place of the stdlib's.
    argv = [sys.executable, "-P", "-m", module, *args]
    env = {k: v for k, v in os.environ.items() if k not in drop_env}
    try:
        done = subprocess.run(
            argv, capture_output=True, env=env, timeout=RESOLVE_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise ResolverFailed(f"the resolver took over {RESOLVE_TIMEOUT:g}s") from None
    try:
        return json.loads(done.stdout)
    except ValueError:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ResolverFailed(detail[-1] if detail else "the resolver printed nothing") from None
