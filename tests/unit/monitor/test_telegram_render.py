"""Telegram's 4096-character limit counts visible text: cut first, escape after."""

from __future__ import annotations

import html
import re

from gridkeeper.monitor.channels.telegram import MAX_TEXT, render


def _payload(summary: str) -> dict[str, object]:
    return {
        "kind": "firing",
        "status": "firing",
        "rule": "custom",
        "subject": "x",
        "level": "error",
        "summary": summary,
        "labels": {},
        "started_at": None,
        "fired_at": None,
        "resolved_at": None,
        "host": "h",
    }


def test_long_text_full_of_entities_is_cut_before_escaping() -> None:
    text = render(_payload("&<" * 4000))
    visible = html.unescape(re.sub(r"</?b>", "", text))
    assert MAX_TEXT - 10 <= len(visible) <= MAX_TEXT
    assert visible.endswith("…")
    assert re.search(r"&[a-z#0-9]*…", text) is None  # no entity cut in half
    assert text.startswith("<b>") and text.count("</b>") == 1
