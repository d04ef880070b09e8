"""Renderer fast paths: spliced JSON lines, cached heads and value texts, batching."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from gridkeeper.logs.records import ERROR, INFO, WARNING, Record
from gridkeeper.logs.render import Renderer, dumps

TS = 1_714_564_800.1234


def _merged(renderer: Renderer, ts: str, level: str, stream: str, rest: dict[str, Any]) -> bytes:
    """The structured line as encoding one merged dict gives it: what splicing must equal."""
    out = {"ts": ts, "level": level, "instance": renderer.instance, "stream": stream, **rest}
    return dumps(out) + b"\n"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"price": 101.25, "qty": 0.5, "side": "buy", "order_id": 123456},
        {"instance": "bot1", "stream": "x", "field_stream": "kept"},
        {"nested": {"a": [1, 2.5, None]}, "flag": True, "none": None},
        {"big": 2**70, "tuple": (1, "a"), "raw": b"bytes"},
        {"note": 'quote " and = sign', "empty": "", "uni": "ünï ✓"},
        {"exception": "Traceback (most recent call last):\n  boom\nValueError: x\n"},
    ],
)
def test_spliced_structured_line_equals_one_merged_dict(fields: dict[str, Any]) -> None:
    """Head bytes + orjson of the fields is byte for byte the old merged-dict encoding."""
    renderer = Renderer("keeper")
    _, structured = renderer.render_own(TS, WARNING, "stdout", "gk.test", "placed", dict(fields))
    renamed = {(f"field_{k}" if k in ("instance", "stream") else k): v for k, v in fields.items()}
    expected_rest = {"logger": "gk.test", "event": "placed", **renamed}
    ts = json.loads(structured)["ts"]
    assert structured == _merged(renderer, ts, "warning", "stdout", expected_rest)


def test_plain_and_traceback_records_splice_like_merged_dicts() -> None:
    """Captured plain lines and tracebacks: the same bytes as encoding a dict."""
    renderer = Renderer("bot1")
    plain = Record(TS, INFO, "stdout", 'tick "7" ünï')
    readable, structured = renderer.render(plain)
    ts = json.loads(structured)["ts"]
    assert readable == f'{ts} INFO     tick "7" ünï\n'
    assert structured == _merged(renderer, ts, "info", "stdout", {"msg": plain.text})
    text = "Traceback (most recent call last):\n  File 'x'\nKeyError: 'k'"
    tb = Record(TS, ERROR, "stderr", text, traceback=True)
    assert renderer.render(tb)[1] == _merged(
        renderer, ts, "error", "stderr", {"msg": "KeyError: 'k'", "traceback": text}
    )


def test_heads_follow_the_millisecond_and_the_logger() -> None:
    """Cached heads never leak into a record of another millisecond, level, logger or event."""
    renderer = Renderer("keeper")
    seen = set()
    for i, (ts, level, logger, event) in enumerate(
        [
            (TS, INFO, "a", "one"),
            (TS, INFO, "a", "one"),
            (TS, ERROR, "a", "one"),
            (TS, INFO, "b", "one"),
            (TS, INFO, None, "two"),
            (TS + 0.001, INFO, "a", "one"),
            (TS + 1, INFO, "a", "one"),
        ]
    ):
        readable, structured = renderer.render_own(ts, level, "stdout", logger, event, {"i": i})
        record = json.loads(structured)
        assert (record["logger"], record["event"], record["i"]) == (logger, event, i)
        assert readable.startswith(record["ts"] + " ")
        assert (f"{logger}: {event}" if logger else event) in readable
        assert record["level"] == ("error" if level == ERROR else "info")
        seen.add(record["ts"])
    assert len(seen) == 3


def test_cached_value_text_does_not_change_a_multiline_value() -> None:
    """A value cached as inline text is still shown as a tail under a traceback-like key."""
    renderer = Renderer("keeper")
    multi = "Traceback (most recent call last):\nValueError: x"
    first, _ = renderer.render_own(TS, INFO, "stdout", "l", "e", {"note": multi, "side": "buy"})
    assert f"note={orjson.dumps(multi).decode()}" in first
    second, _ = renderer.render_own(TS, INFO, "stdout", "l", "e", {"exception": multi, "s": "buy"})
    assert second.endswith("l: e s=buy\n" + multi + "\n")


def test_batch_collects_lines_per_file() -> None:
    """add()/add_own() append to the batch; ERROR and above also to the errors list."""
    renderer = Renderer("bot1")
    renderer.add(Record(TS, INFO, "stdout", "fine"))
    renderer.add_own(TS, ERROR, "stdout", "gk", "bad", {"code": 7})
    renderer.add_own(TS, INFO, "stdout", "gk", "quiet", {})
    lines, errors, records = renderer.take()
    assert len(lines) == 3
    assert errors == [lines[1]]
    assert [json.loads(r).get("msg", json.loads(r).get("event")) for r in records] == [
        "fine",
        "bad",
        "quiet",
    ]
    assert renderer.take() == ([], [], [])


@pytest.mark.parametrize("child_ts", ["2024-05-01 14:00:00+02:00", 1_714_564_799.5, "yesterday"])
def test_json_record_ts_is_capture_time_and_child_ts_is_kept(child_ts: object) -> None:
    """`ts` is always the capture time in RFC 3339 UTC; the child's own value is `child_ts`."""
    renderer = Renderer("bot1")
    fields = {"ts": child_ts, "level": "info", "event": "tick", "timestamp": "kept as is"}
    record = Record(TS, INFO, "stdout", orjson.dumps(fields).decode(), fields)
    readable, structured = renderer.render(record)
    out = json.loads(structured)
    assert out["ts"] == "2024-05-01T12:00:00.123Z"
    assert out["child_ts"] == child_ts
    assert out["timestamp"] == "kept as is"
    assert readable.startswith("2024-05-01T12:00:00.123Z INFO     tick")
