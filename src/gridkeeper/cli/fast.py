"""`gridkeeper status` without click, pydantic or rich: the command operators run most, kept
near the interpreter's own start-up time. Anything it does not handle falls back to the full CLI
(returns None): other options, no keeper running (the full CLI starts one), a keeper that does
not answer at once (the full client tells a busy keeper from a wedged one), help.

Start-up cost is the whole game here: the interpreter itself takes ~12 ms, and `socket`, `json`
(through `re`) and `pathlib` would each add as much again. So this path talks to the keeper with
the C modules underneath them (`_socket`, `_json`) and `os.path`, and imports the table code and
the grid probe only when there is something for them to do (benchmarks/keeper.py measures it
beside `supervisorctl status`, also with both cores busy).
"""

# os.path, not pathlib: importing pathlib costs as much as the whole request (see above).
# ruff: noqa: PTH111, PTH113, PTH118

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs start-up time; mypy treats this name as typing's
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

NOT_RUNNING_EXIT = 3
DEGRADED = (
    "the keeper cannot write its state file (state_store_degraded: disk full?); it keeps "
    "supervising and writes what it missed when space returns"
)
MAX_REPLY = 64 << 20
ANSWER_TIMEOUT = 5.0  # as keeper/client.py: $GRIDKEEPER_ANSWER_TIMEOUT, default 5 s


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


def _home(explicit: str | None) -> str:
    """As paths.resolve_home: --home, $GRIDKEEPER_HOME, ~/.gridkeeper; absolute, links resolved.
    (A path it cannot use ends in a failed connect, and the full CLI then says why.)"""
    given = explicit or os.environ.get("GRIDKEEPER_HOME") or "~/.gridkeeper"
    return os.path.realpath(os.path.expanduser(given))


def _timeout() -> float:
    raw = os.environ.get("GRIDKEEPER_ANSWER_TIMEOUT")
    try:
        value = float(raw) if raw else ANSWER_TIMEOUT
    except ValueError:
        return ANSWER_TIMEOUT
    return value if 0 < value < 3600 else ANSWER_TIMEOUT


def _decoder() -> Any:
    """A JSON decoder without importing `json` (whose decoder imports `re`): the C scanner json
    itself uses, with json's default settings. Falls back to json where `_json` is missing."""
    try:
        import _json
    except ImportError:  # not CPython
        import json

        return json.loads

    class Context:
        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int

        @staticmethod
        def parse_constant(name: str) -> float:
            return float(name.lower().replace("infinity", "inf"))

    # typeshed declares the argument as a JSONDecoder; the C code reads only these attributes.
    scan = _json.make_scanner(Context())  # type: ignore[arg-type]

    def loads(text: str) -> Any:
        value, end = scan(text, 0)
        if text[end:].strip():
            raise ValueError("extra data after the JSON value")
        return value

    return loads


class _Unresponsive(Exception):
    """The keeper's socket took the request but no answer came within the answer timeout."""


def _ask(home: str, name: str | None) -> dict[str, Any] | None:
    """The keeper's reply to `status`, or None for anything unexpected (the full CLI retries).
    _Unresponsive when a keeper listens but does not answer in time."""
    import _json
    import _socket

    args = "{}" if name is None else '{"names": [' + _json.encode_basestring_ascii(name) + "]}"
    request = ('{"op": "status", "args": ' + args + "}\n").encode()
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(_timeout())
        sock.connect(os.path.join(home, "keeper.sock"))
        sock.sendall(request)
        buf = b""
        while b"\n" not in buf:
            chunk = sock.recv(1 << 16)
            if not chunk or len(buf) > MAX_REPLY:
                return None
            buf += chunk
    except TimeoutError:
        raise _Unresponsive from None
    except OSError:  # no keeper, a stale socket: the full CLI decides what it means
        return None
    finally:
        sock.close()
    reply = _decoder()(buf[: buf.index(b"\n")].decode("utf-8"))
    return reply if isinstance(reply, dict) else None


def _maybe_grid(home: str, rows: list[dict[str, Any]]) -> None:
    """Grid columns (cli/grid_probe.py, which imports http.client) only when some row is a grid
    bot, i.e. has a port and a control-API token; otherwise every row's `grid` is None."""
    tokens = os.path.join(home, "tokens")
    if any(
        r.get("port") and os.path.isfile(os.path.join(tokens, f"{r.get('name')}.token"))
        for r in rows
    ):
        from pathlib import Path

        from gridkeeper.cli.grid_probe import add_grid_columns

        add_grid_columns(Path(home), rows)
    else:
        for row in rows:
            row["grid"] = None


def status(argv: Sequence[str]) -> int | None:
    parsed = _parse(argv)
    if parsed is None:
        return None
    name, as_json, explicit = parsed
    try:
        home = _home(explicit)
        reply = _ask(home, name)
    except _Unresponsive:
        # The full CLI could only wait again: report it here, once.
        from pathlib import Path

        from gridkeeper.keeper.client import KeeperUnresponsive, lock_holder

        print(f"error: {KeeperUnresponsive(Path(home), lock_holder(Path(home)))}", file=sys.stderr)
        return 1
    except Exception:  # whatever it is, the full CLI reports it properly
        return None
    if reply is None:
        return None
    if not reply.get("ok"):
        error = reply.get("error") or {}
        if error.get("code") == "not_found" and name:
            print(f"{name}: not known to the keeper (not running)", file=sys.stderr)
            return NOT_RUNNING_EXIT
        return None
    rows = reply.get("result")
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "state" in r for r in rows):
        return None  # not a status answer: let the full CLI make sense of it
    if any(r.get("state_store_degraded") for r in rows):
        print(f"warning: {DEGRADED}", file=sys.stderr)
    _maybe_grid(home, rows)
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


def _parse_options(
    argv: Sequence[str], flags: tuple[str, ...] = (), options: tuple[str, ...] = ()
) -> tuple[dict[str, str | None], set[str]] | None:
    """`[--home H] [--settings S]` plus the given flags and options; None for anything else
    (--help, ...)."""
    found: dict[str, str | None] = {"--home": None, "--settings": None}
    found.update(dict.fromkeys(options))
    seen: set[str] = set()
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in flags:
            seen.add(arg)
            continue
        key, eq, value = arg.partition("=")
        if key not in found:
            return None
        if not eq:
            if not args:
                return None
            value = args.pop(0)
        found[key] = value
    return found, seen


def monitor(argv: Sequence[str]) -> int | None:
    """The monitor in the foreground without click (the keeper's built-in monitor runs this):
    a long-lived process keeps only what it imports (gridkeeper.monitor.main)."""
    parsed = _parse_options(argv)
    if parsed is None:
        return None
    home, settings = parsed[0]["--home"], parsed[0]["--settings"]
    try:
        from gridkeeper.monitor.main import prepare
        from gridkeeper.paths import find_settings, resolve_home

        ready = prepare(resolve_home(home), find_settings(settings))
    except Exception:  # bad settings, a bad home: the full CLI reports it properly
        return None
    from gridkeeper.errors import GridkeeperError
    from gridkeeper.monitor.main import serve

    try:
        return serve(ready)
    except GridkeeperError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def keeper(argv: Sequence[str]) -> int | None:
    """The keeper daemon without click: what `start -d`, systemd and the monitor run. The daemon
    keeps what its process imported for its whole life, so the CLI's modules stay out of it."""
    parsed = _parse_options(argv, flags=("--daemonize",))
    if parsed is None:
        return None
    options, flags = parsed
    if "asyncio" not in sys.modules and "ssl" not in sys.modules:
        # The keeper never speaks TLS (its probes are plain HTTP to 127.0.0.1), and asyncio
        # would otherwise load libssl for nothing: 4 MiB of a daemon meant to stay small.
        # asyncio treats a missing ssl module as "no TLS support", by design.
        sys.modules["ssl"] = None  # type: ignore[assignment]
    from gridkeeper.errors import GridkeeperError
    from gridkeeper.paths import find_settings, resolve_home

    try:
        home = resolve_home(options["--home"])
        settings = find_settings(options["--settings"])
    except GridkeeperError:
        return None  # the full CLI reports it
    from gridkeeper.keeper import daemon

    try:
        return daemon.run(home, settings, background="--daemonize" in flags)
    except GridkeeperError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def bot(argv: Sequence[str]) -> int | None:
    """A grid bot without click (what the keeper runs): the long-lived process keeps only what
    it imports (gridkeeper.bot.main: no click, no pydantic; issue 14)."""
    parsed = _parse_options(argv, options=("--config",))
    if parsed is None or not parsed[0]["--config"]:
        return None  # click says what is missing
    options = parsed[0]
    from pathlib import Path

    from gridkeeper.errors import GridkeeperError
    from gridkeeper.paths import resolve_home

    try:
        home = resolve_home(options["--home"])
    except GridkeeperError:
        return None  # the full CLI reports it
    from gridkeeper.bot.main import main

    settings = options["--settings"]
    try:
        return main(Path(str(options["--config"])), home, Path(settings) if settings else None)
    except GridkeeperError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


FAST = {"status": status, "monitor": monitor, "keeper": keeper, "bot": bot}


def run() -> None:
    """The console script: fast paths first, then the full click CLI."""
    argv = sys.argv[1:]
    fast = FAST.get(argv[0]) if argv else None
    if fast is not None:
        code = fast(argv[1:])
        if code is not None:
            sys.exit(code)
    from gridkeeper.cli.main import main

    sys.exit(main())
