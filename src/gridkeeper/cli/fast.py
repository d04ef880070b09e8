"""`gridkeeper status` without click, pydantic or rich: the command operators run most, kept
near the interpreter's own start-up time. Anything it does not handle falls back to the full CLI
(returns None): other options, no keeper running (the full CLI starts one), help."""

from __future__ import annotations

import sys
from collections.abc import Sequence

NOT_RUNNING_EXIT = 3
DEGRADED = (
    "the keeper cannot write its state file (state_store_degraded: disk full?); it keeps "
    "supervising and writes what it missed when space returns"
)


def _parse(argv: Sequence[str]) -> tuple[str | None, bool, str | None] | None:
    name: str | None = None
    as_json = False
    home: str | None = None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--json":
            as_json = True
        elif arg == "--home" and args:
            home = args.pop(0)
        elif arg.startswith("--home="):
            home = arg.split("=", 1)[1]
        elif arg.startswith("-") or name is not None:
            return None  # --config, --settings, -h, two names: the full CLI handles them
        else:
            name = arg
    return name, as_json, home


def status(argv: Sequence[str]) -> int | None:
    parsed = _parse(argv)
    if parsed is None:
        return None
    name, as_json, home = parsed
    from gridkeeper.keeper.client import KeeperClient, KeeperError, KeeperUnresponsive
    from gridkeeper.paths import resolve_home

    try:
        home_dir = resolve_home(home)
        client = KeeperClient(home_dir)
        rows = client.request("status", names=[name] if name else None)
    except KeeperError as exc:
        if exc.code == "not_found" and name:
            print(f"{name}: not known to the keeper (not running)", file=sys.stderr)
            return NOT_RUNNING_EXIT
        return None
    except KeeperUnresponsive as exc:
        # The full CLI could only wait again: report it here, once.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception:
        return None
    if any(r.get("state_store_degraded") for r in rows):
        print(f"warning: {DEGRADED}", file=sys.stderr)
    from gridkeeper.cli.grid_probe import add_grid_columns

    add_grid_columns(home_dir, rows)
    if as_json:
        import json

        print(json.dumps(rows, indent=2))
    elif rows:
        from gridkeeper.cli.table import status_table, use_colour

        print(status_table(rows, colour=use_colour(sys.stdout)))
    else:
        print("no instances")
    if name and any(r["state"] not in ("running", "starting") for r in rows):
        return NOT_RUNNING_EXIT
    return 0


def run() -> None:
    """The console script: fast paths first, then the full click CLI."""
    argv = sys.argv[1:]
    if argv and argv[0] == "bot":
        # httpx's __init__ imports its own command-line tool (httpx._main: rich, pygments,
        # click) when it can: ~6 MiB in every bot for a CLI the bot never runs. A None entry
        # makes that import fail, which httpx handles (docs/footprint.md).
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    if argv and argv[0] == "status":
        code = status(argv[1:])
        if code is not None:
            sys.exit(code)
    from gridkeeper.cli.main import main

    sys.exit(main())
