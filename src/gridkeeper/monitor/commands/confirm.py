"""Confirmations waiting for a button: a short one-time id per preview, which expires. Pure.

The id goes into the buttons' `callback_data` (`<id>:<choice>`, well under Telegram's 64
bytes). Taking it removes it, so a double tap (or a replayed callback) runs nothing twice; an
expired or unknown id (the monitor restarted meanwhile) runs nothing at all.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gridkeeper.monitor.commands.parse import Command


@dataclass
class Pending:
    id: str
    command: Command
    chat_id: str
    user_id: str
    expires_at: float
    # choice -> (button label, what confirming it does); "cancel" is always offered.
    choices: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    message_id: int | None = None

    def keyboard(self) -> list[list[dict[str, str]]]:
        rows = [
            [{"text": label, "callback_data": f"{self.id}:{key}"}]
            for key, (label, _) in self.choices.items()
        ]
        rows.append([{"text": "Cancel", "callback_data": f"{self.id}:cancel"}])
        return rows


class Confirmations:
    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self.clock = clock
        self._waiting: dict[str, Pending] = {}

    def add(
        self,
        command: Command,
        chat_id: str,
        user_id: str,
        choices: dict[str, tuple[str, dict[str, Any]]],
    ) -> Pending:
        self._expire()
        pid = secrets.token_urlsafe(6)  # 8 characters: unguessable for its short life
        pending = Pending(pid, command, chat_id, user_id, self.clock() + self.ttl, dict(choices))
        self._waiting[pid] = pending
        return pending

    def take(self, data: str) -> tuple[Pending | None, str]:
        """The pending confirmation `data` names and the choice; (None, reason) if none."""
        self._expire()
        pid, _, choice = data.partition(":")
        pending = self._waiting.pop(pid, None)
        if pending is None:
            return None, "this confirmation expired or was already used"
        if choice != "cancel" and choice not in pending.choices:
            return None, "unknown choice"
        return pending, choice

    def put_back(self, pending: Pending) -> None:
        """A callback from the wrong chat or user must not use up the owner's confirmation."""
        self._waiting[pending.id] = pending

    def _expire(self) -> None:
        now = self.clock()
        for pid in [p for p, v in self._waiting.items() if v.expires_at <= now]:
            del self._waiting[pid]

    def __len__(self) -> int:
        return len(self._waiting)
