"""The command loop: long-poll `getUpdates`, answer allowed chats, confirm what changes state.

It runs on its own thread inside the monitor (`MonitorService` starts it when
`notifications.telegram.commands` is on). The monitor is the one process per home
(`monitor.lock`), and the Bot API allows one `getUpdates` consumer per bot token (a second
gets HTTP 409): living in the monitor makes that one-ness free. It also already holds the
settings, the secrets' redaction and monitor.db.

Safety rules:
- Only chats in `allowed_chat_ids` (default: the channel's `chat_id`) — and, when set, users
  in `allowed_user_ids` — get an answer. Anything else is logged (chat and user id) and ignored.
- A state-changing command only sends a preview with buttons; a one-time id in the buttons'
  `callback_data` expires after `confirm_ttl`, is used up by the first tap, and only the chat
  and user that asked may use it.
- Messages older than STALE_AFTER (sent while the monitor was down) are not acted on.
- Every command from an allowed chat, and every confirm/cancel, is an `operator_action` event
  in the monitor's log (source telegram, chat, user, command, outcome).
- Polling failures back off with the monitor's own RetryPolicy (monitor/outbox.py), honouring
  the API's `retry_after`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridkeeper.logs import add_redactions, get_logger, log_event
from gridkeeper.monitor.commands import render
from gridkeeper.monitor.commands.botapi import BotApi, BotApiError
from gridkeeper.monitor.commands.confirm import Confirmations
from gridkeeper.monitor.commands.ops import OpError, Ops
from gridkeeper.monitor.commands.parse import Command, CommandError, help_text, parse
from gridkeeper.monitor.commands.plan import execute, plan
from gridkeeper.monitor.outbox import RetryPolicy

if TYPE_CHECKING:  # pydantic stays out of the monitor process (settings_view)
    from gridkeeper.config.monitor import TelegramChannel

log = logging.getLogger("gridkeeper.monitor.telegram")
audit = get_logger("gridkeeper.monitor.telegram")
STALE_AFTER = 600.0  # seconds; a command queued longer than this is not acted on

Audit = Callable[..., None]


def _log_action(**fields: Any) -> None:
    log_event(audit, "operator_action", source="telegram", **fields)


class TelegramCommands:
    def __init__(
        self,
        home: Path,
        config: TelegramChannel,
        retry: RetryPolicy,
        *,
        clock: Callable[[], float] = time.time,
        on_action: Audit = _log_action,
    ) -> None:
        self.home = home
        self.config = config
        self.retry = retry
        self.clock = clock
        self.on_action = on_action
        # Not config.command_chats(): in the monitor process the settings are plain attribute
        # objects (monitor/settings_view.py), not the pydantic model with its methods.
        chats = [str(c).strip() for c in config.allowed_chat_ids] or [config.chat_id.strip()]
        self.allowed_chats = {c for c in chats if c}
        self.allowed_users = {str(u).strip() for u in config.allowed_user_ids if str(u).strip()}
        token = config.bot_token.get_secret_value()
        # The token is in every URL: httpx logs each request's URL at INFO, and an error could
        # quote it. Mask it for this process's life (the monitor does too; this also covers
        # the loop run on its own) and keep httpx's request log off.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        add_redactions([f"{config.api_base.rstrip('/')}/bot{token}", token])
        self.api = BotApi(config.api_base, token, config.timeout, config.poll_timeout)
        self.ops = Ops(home)
        self.confirms = Confirmations(config.confirm_ttl, clock)
        self.offset: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- life --------------------------------------------------------------------------------
    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name="telegram-commands", daemon=True)
        self._thread.start()
        log.info("telegram commands: polling for chats %s", ", ".join(sorted(self.allowed_chats)))
        return self._thread

    def stop(self, wait: float = 0.5) -> None:
        """Ask the loop to end; wait up to `wait` seconds. A long poll in flight ends within
        poll_timeout, and the loop then closes its connections itself (it is a daemon
        thread: a monitor shutting down never waits for it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait)

    def run(self) -> None:
        try:
            self._loop()
        finally:
            self.api.close()
            self.ops.close()

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                updates = self.api.get_updates(self.offset)
            except BotApiError as exc:
                if self._stop.is_set():
                    break
                failures += 1
                delay = self.retry.delay(failures)
                if exc.retry_after is not None:
                    delay = min(self.retry.maximum, max(self.retry.initial, exc.retry_after))
                hint = ""
                if exc.status == 409:
                    hint = " (another getUpdates consumer or a webhook uses this bot token)"
                elif exc.status == 401:
                    hint = " (bot_token is wrong)"
                log.warning("telegram commands: %s%s; polling again in %.1fs", exc, hint, delay)
                self._stop.wait(delay)
                continue
            failures = 0
            for update in updates:
                uid = update.get("update_id")
                if isinstance(uid, int):
                    # Confirmed with the next getUpdates; a crash in between re-delivers it,
                    # which only re-sends a preview (confirmations are in memory).
                    self.offset = max(self.offset or 0, uid + 1)
                try:
                    self.handle(update)
                except Exception:
                    log.exception("telegram commands: could not handle an update")

    # -- dispatch ----------------------------------------------------------------------------
    def _allowed(self, chat_id: str, user_id: str) -> bool:
        if chat_id not in self.allowed_chats:
            return False
        return not self.allowed_users or user_id in self.allowed_users

    def handle(self, update: dict[str, Any]) -> None:
        message = update.get("message")
        callback = update.get("callback_query")
        if isinstance(message, dict):
            self._on_message(message)
        elif isinstance(callback, dict):
            self._on_callback(callback)

    def _on_message(self, message: dict[str, Any]) -> None:
        chat = message.get("chat") or {}
        sender = message.get("from") or {}
        chat_id, user_id = str(chat.get("id", "")), str(sender.get("id", ""))
        text = message.get("text")
        if not isinstance(text, str):
            return
        if not self._allowed(chat_id, user_id):
            log.warning(
                "telegram commands: ignored a message from chat %s user %s (not allowed)",
                chat_id,
                user_id,
            )
            return
        sent = message.get("date")
        if isinstance(sent, int | float) and self.clock() - sent > STALE_AFTER:
            log.info("telegram commands: ignored a command sent %.0fs ago", self.clock() - sent)
            return
        who = {"chat_id": chat_id, "user_id": user_id, "user": sender.get("username")}
        try:
            command = parse(text)
        except CommandError as exc:
            # Only the command word is logged: the rest was not understood.
            self.on_action(command=text.split()[0][:40], outcome="invalid", detail=str(exc), **who)
            self.api.send_message(chat_id, str(exc))
            return
        if command is None:
            return  # plain chat
        if command.changes_state:
            self._preview(command, chat_id, user_id, who)
            return
        try:
            reply = self._read_only(command)
            outcome = "ok"
        except OpError as exc:
            reply, outcome = str(exc), "failed"
        self.on_action(command=command.describe(), outcome=outcome, **who)
        self.api.send_message(chat_id, reply)

    def _read_only(self, command: Command) -> str:
        if command.name == "help":
            return help_text()
        if command.name == "status":
            rows = self.ops.status()
            grids = {}
            for row in rows:
                view = self.ops.grid_view(row)
                if view is not None:
                    grids[str(row.get("name"))] = view
            return render.status(rows, grids)
        if command.name == "profit":
            return render.profit(self.ops.profit(command.instance))
        if command.name == "alerts":
            return render.alerts(self.ops.firing_alerts(), self.clock())
        if command.name == "ack":
            assert command.alert_id is not None
            if not self.ops.ack(command.alert_id):
                raise OpError(f"no alert #{command.alert_id}")
            return f"alert #{command.alert_id} acknowledged: no more reminders"
        raise OpError(f"/{command.name} is not a read-only command")

    # -- confirmation --------------------------------------------------------------------------
    def _preview(self, command: Command, chat_id: str, user_id: str, who: dict[str, Any]) -> None:
        try:
            text, choices = plan(self.ops, command)
        except OpError as exc:
            self.on_action(command=command.describe(), outcome="refused", detail=str(exc), **who)
            self.api.send_message(chat_id, str(exc))
            return
        if not choices:
            self.on_action(command=command.describe(), outcome="refused", detail=text, **who)
            self.api.send_message(chat_id, text)
            return
        pending = self.confirms.add(command, chat_id, user_id, choices)
        ttl = int(self.config.confirm_ttl)
        sent = self.api.send_message(
            chat_id, f"{text}\n\n(buttons valid {ttl}s)", pending.keyboard()
        )
        if isinstance(sent.get("message_id"), int):
            pending.message_id = sent["message_id"]
        self.on_action(command=command.describe(), outcome="preview", **who)

    def _on_callback(self, callback: dict[str, Any]) -> None:
        message = callback.get("message") or {}
        chat_id = str((message.get("chat") or {}).get("id", ""))
        sender = callback.get("from") or {}
        user_id = str(sender.get("id", ""))
        cq_id = str(callback.get("id", ""))
        if not self._allowed(chat_id, user_id):
            log.warning(
                "telegram commands: ignored a button from chat %s user %s (not allowed)",
                chat_id,
                user_id,
            )
            return
        who = {"chat_id": chat_id, "user_id": user_id, "user": sender.get("username")}
        message_id = message.get("message_id")
        pending, choice = self.confirms.take(str(callback.get("data", "")))
        if pending is None:
            self._answer(cq_id, choice)
            if isinstance(message_id, int):
                self._edit(chat_id, message_id, f"{message.get('text', '')}\n\n{choice}")
            return
        if pending.chat_id != chat_id or pending.user_id != user_id:
            self.confirms.put_back(pending)
            self._answer(cq_id, "only the operator who asked can confirm this")
            return
        head = str(message.get("text", "")).split("\n\n(buttons valid")[0]
        described = pending.command.describe()
        if choice == "cancel":
            self._answer(cq_id, "cancelled")
            self.on_action(command=described, outcome="cancelled", **who)
            if isinstance(message_id, int):
                self._edit(chat_id, message_id, f"{head}\n\nCancelled: nothing done.")
            return
        label, action = pending.choices[choice]
        self._answer(cq_id, "working on it")
        assert pending.command.instance is not None
        ok, result = execute(self.ops, pending.command.instance, action)
        self.on_action(
            command=described,
            choice=label,
            outcome="done" if ok else "failed",
            detail=result,
            **who,
        )
        final = f"{head}\n\n{'Done' if ok else 'FAILED'} ({label}): {result}"
        if isinstance(message_id, int):
            self._edit(chat_id, message_id, final)
        else:
            self.api.send_message(chat_id, final)

    def _answer(self, callback_id: str, text: str) -> None:
        """Best effort: Telegram refuses an answer to a tap older than ~15 s (the loop was
        busy), and that must not keep the action or its outcome from happening."""
        try:
            self.api.answer_callback(callback_id, text)
        except BotApiError as exc:
            log.warning("telegram commands: %s", exc)

    def _edit(self, chat_id: str, message_id: int, text: str) -> None:
        """Replace the preview; if it cannot be edited any more, say it in a new message."""
        try:
            self.api.edit_message(chat_id, message_id, text)
        except BotApiError as exc:
            log.warning("telegram commands: %s; sending the outcome instead", exc)
            self.api.send_message(chat_id, text)
