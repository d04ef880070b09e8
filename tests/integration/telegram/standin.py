"""A local Telegram Bot API stand-in on 127.0.0.1: real HTTP, real request parsing.

Implements what the commands use — getUpdates (offset confirms, long poll up to `timeout`),
sendMessage (inline keyboards checked: callback_data at most 64 bytes), answerCallbackQuery
(only for a callback it delivered, once) and editMessageText (only a message it holds) — and
answers like the real API: `{"ok": true, "result": ...}` or `{"ok": false, "error_code",
"description"}`, 401 for a wrong token. The test plays the human: `say()` and `press()`.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")


@dataclass
class Message:
    chat_id: str
    message_id: int
    text: str
    keyboard: list[list[dict[str, str]]] | None = None
    edits: list[str] = field(default_factory=list)

    def buttons(self) -> dict[str, str]:
        """label -> callback_data of the message's inline keyboard."""
        return {b["text"]: b["callback_data"] for row in self.keyboard or [] for b in row}


class BotApiStandIn:
    def __init__(self, token: str) -> None:
        self.token = token
        self.cond = threading.Condition()
        self.updates: list[dict[str, Any]] = []
        self.messages: list[Message] = []  # what the bot sent, in order
        self.answered: dict[str, str] = {}  # callback id -> text
        self.delivered_callbacks: set[str] = set()
        self.requests: list[tuple[str, str]] = []  # (method, raw path) of every call
        self.confirmed_offset = 0
        self._ids = itertools.count(1)
        self._msg_ids = itertools.count(100)
        self._server: ThreadingHTTPServer | None = None

    # -- the human ---------------------------------------------------------------------------
    def say(self, chat_id: int | str, text: str, user_id: int = 42, age: float = 0) -> None:
        message = {
            "message_id": next(self._msg_ids),
            "date": int(time.time() - age),
            "chat": {"id": int(chat_id), "type": "private"},
            "from": {"id": user_id, "is_bot": False, "username": f"user{user_id}"},
            "text": text,
        }
        self._push({"message": message})

    def press(self, message: Message, label: str, user_id: int = 42) -> str:
        data = message.buttons()[label]
        cq_id = f"cq{next(self._ids)}"
        callback = {
            "id": cq_id,
            "from": {"id": user_id, "is_bot": False, "username": f"user{user_id}"},
            "message": {
                "message_id": message.message_id,
                "chat": {"id": int(message.chat_id), "type": "private"},
                "text": message.text,
            },
            "chat_instance": "1",
            "data": data,
        }
        self._push({"callback_query": callback})
        return cq_id

    def _push(self, update: dict[str, Any]) -> None:
        with self.cond:
            update["update_id"] = next(self._ids)
            self.updates.append(update)
            self.cond.notify_all()

    def sent_to(self, chat_id: int | str) -> list[Message]:
        with self.cond:
            return [m for m in self.messages if m.chat_id == str(chat_id)]

    # -- the API -----------------------------------------------------------------------------
    def _get_updates(self, body: dict[str, Any]) -> Any:
        offset = int(body.get("offset") or 0)
        timeout = float(body.get("timeout") or 0)
        deadline = time.monotonic() + min(timeout, 5.0)
        with self.cond:
            if offset:
                self.confirmed_offset = max(self.confirmed_offset, offset)
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and time.monotonic() < deadline:
                self.cond.wait(deadline - time.monotonic())
            out = list(self.updates)
            for u in out:
                if "callback_query" in u:
                    self.delivered_callbacks.add(u["callback_query"]["id"])
            return out

    def _send(self, body: dict[str, Any]) -> Any:
        text, chat = body.get("text"), body.get("chat_id")
        if not isinstance(text, str) or not text.strip() or chat is None:
            raise ApiRefusal(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiRefusal(400, "Bad Request: message is too long")
        keyboard = None
        markup = body.get("reply_markup")
        if markup is not None:
            keyboard = markup["inline_keyboard"]
            for row in keyboard:
                for button in row:
                    if not button["text"] or len(button["callback_data"].encode()) > 64:
                        raise ApiRefusal(400, "Bad Request: BUTTON_DATA_INVALID")
        with self.cond:
            msg = Message(str(chat), next(self._msg_ids), text, keyboard)
            self.messages.append(msg)
        return {"message_id": msg.message_id, "chat": {"id": chat}, "text": text}

    def _edit(self, body: dict[str, Any]) -> Any:
        with self.cond:
            for msg in self.messages:
                if msg.chat_id == str(body.get("chat_id")) and msg.message_id == body.get(
                    "message_id"
                ):
                    msg.text = str(body["text"])
                    msg.edits.append(msg.text)
                    msg.keyboard = (body.get("reply_markup") or {}).get("inline_keyboard")
                    return {"message_id": msg.message_id, "text": msg.text}
        raise ApiRefusal(400, "Bad Request: message to edit not found")

    def _answer(self, body: dict[str, Any]) -> Any:
        cq = str(body.get("callback_query_id"))
        with self.cond:
            if cq not in self.delivered_callbacks or cq in self.answered:
                raise ApiRefusal(400, "Bad Request: query is too old or query ID is invalid")
            self.answered[cq] = str(body.get("text", ""))
        return True

    def handle(self, path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        match = PATH.match(path)
        if match is None or match["token"] != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = match["method"]
        with self.cond:
            self.requests.append((method, path))
        try:
            body = json.loads(raw or b"{}")
            handler = {
                "getUpdates": self._get_updates,
                "sendMessage": self._send,
                "editMessageText": self._edit,
                "answerCallbackQuery": self._answer,
            }.get(method)
            if handler is None:
                raise ApiRefusal(404, "Not Found")
            return 200, {"ok": True, "result": handler(body)}
        except ApiRefusal as exc:
            return exc.code, {"ok": False, "error_code": exc.code, "description": exc.text}

    # -- the server --------------------------------------------------------------------------
    def start(self, port: int = 0) -> BotApiStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                    status, answer = 400, {"ok": False, "error_code": 400, "description": "json"}
                else:
                    length = int(self.headers.get("Content-Length") or 0)
                    status, answer = standin.handle(self.path, self.rfile.read(length))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class ApiRefusal(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
