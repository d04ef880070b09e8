"""A chat message's text -> the command it asks for. Pure: no I/O.

`/cmd@BotName args` (how Telegram writes a command in a group) is the same as `/cmd args`.
Errors are `CommandError` with the reply the operator should read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# Instance names as the keeper allows them in file names; nothing that could smuggle a path.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_PRICE = Decimal("1e12")

# command -> (usage, what it does); the order is /help's.
COMMANDS: dict[str, tuple[str, str]] = {
    "status": ("/status", "every instance: state, uptime, restarts; grids: trading, range, PnL"),
    "profit": ("/profit [NAME]", "each grid's profit from its store (works while a bot is down)"),
    "alerts": ("/alerts", "firing alerts, with their ids"),
    "ack": ("/ack ID", "acknowledge alert ID: no more reminders"),
    "pause": ("/pause NAME", "pause a grid (its orders are cancelled) - asks to confirm"),
    "resume": ("/resume NAME", "resume a paused grid - asks to confirm"),
    "stop": ("/stop NAME", "stop an instance (or only its trading) - asks to confirm"),
    "start": ("/start NAME", "start an instance - asks to confirm"),
    "adjust": ("/adjust NAME LOWER UPPER", "move a grid's range, with a preview - asks to confirm"),
    "help": ("/help", "this list"),
}
STATE_CHANGING = frozenset({"pause", "resume", "stop", "start", "adjust"})


class CommandError(Exception):
    """The text is not a valid command; the message is the reply."""


@dataclass(frozen=True)
class Command:
    name: str
    instance: str | None = None
    alert_id: int | None = None
    lower: Decimal | None = None
    upper: Decimal | None = None

    @property
    def changes_state(self) -> bool:
        return self.name in STATE_CHANGING

    def describe(self) -> str:
        """The command as logged (no secrets can be in it: names, ids and prices only)."""
        parts = [f"/{self.name}"]
        if self.instance:
            parts.append(self.instance)
        if self.alert_id is not None:
            parts.append(str(self.alert_id))
        if self.lower is not None and self.upper is not None:
            parts += [format(self.lower, "f"), format(self.upper, "f")]
        return " ".join(parts)


def usage(name: str) -> str:
    return f"usage: {COMMANDS[name][0]}"


def help_text() -> str:
    lines = ["gridkeeper commands:"]
    lines += [f"{use} - {what}" for use, what in COMMANDS.values()]
    return "\n".join(lines)


def _name(name: str, arg: str) -> str:
    if not NAME_RE.match(arg):
        raise CommandError(f"{arg!r} is not an instance name; {usage(name)}")
    return arg


def _price(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CommandError(f"{what} must be a number (got {text!r})") from None
    if not value.is_finite() or value <= 0 or value > MAX_PRICE:
        raise CommandError(f"{what} must be a positive number (got {text!r})")
    return value


def parse(text: str) -> Command | None:
    """The command in `text`; None when it is not a command at all (plain chat is ignored)."""
    words = text.strip().split()
    if not words or not words[0].startswith("/"):
        return None
    name = words[0][1:].split("@", 1)[0].lower()
    args = words[1:]
    if name not in COMMANDS:
        raise CommandError(f"unknown command /{name}; /help lists them")
    if name in ("status", "alerts", "help"):
        if args:
            raise CommandError(usage(name))
        return Command(name)
    if name == "profit":
        if len(args) > 1:
            raise CommandError(usage(name))
        return Command(name, instance=_name(name, args[0]) if args else None)
    if name == "ack":
        raw = args[0].lstrip("#") if len(args) == 1 else ""
        # ASCII only: "²".isdigit() is true but int() refuses it (a ValueError the loop only
        # logged, leaving the operator without an answer).
        if not (raw.isascii() and raw.isdigit()):
            raise CommandError(usage(name))
        if len(raw) > 18:  # past SQLite's 64-bit integers: no alert has such an id
            raise CommandError(f"no alert #{raw}")
        return Command(name, alert_id=int(raw))
    if name == "adjust":
        if len(args) != 3:
            raise CommandError(usage(name))
        lower, upper = _price(args[1], "LOWER"), _price(args[2], "UPPER")
        if lower >= upper:
            raise CommandError(f"LOWER ({args[1]}) must be below UPPER ({args[2]})")
        return Command(name, instance=_name(name, args[0]), lower=lower, upper=upper)
    if len(args) != 1:
        raise CommandError(usage(name))
    return Command(name, instance=_name(name, args[0]))
