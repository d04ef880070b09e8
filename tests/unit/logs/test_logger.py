"""configure_logging / get_logger: JSON shape, stdlib records, redaction, levels, readable mode."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog

from gridkeeper.logs import (
    LogSink,
    add_redactions,
    configure_logging,
    get_logger,
    log_event,
)
from gridkeeper.logs.reader import log_path

pytestmark = pytest.mark.usefixtures("restore_root_logging")

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_line_shape() -> None:
    """One JSON object per line: ts (RFC 3339 UTC, ms), level, logger, event, then fields."""
    out = io.StringIO()
    configure_logging("info", json=True, stream=out)
    get_logger("gridkeeper.test").info("order placed", price=101.5, side="buy")
    (record,) = _records(out)
    assert list(record) == ["ts", "level", "logger", "event", "price", "side"]
    assert TS.match(str(record["ts"]))
    assert record["level"] == "info"
    assert record["logger"] == "gridkeeper.test"
    assert record["event"] == "order placed"
    assert record["price"] == 101.5


def test_logger_created_before_configure_follows_new_configuration() -> None:
    """A module-level logger made before configure_logging writes where it now points."""
    log = get_logger("early")
    first, second = io.StringIO(), io.StringIO()
    configure_logging(json=True, stream=first)
    log.info("one")
    configure_logging(json=True, stream=second)
    log.bind(run=2).info("two")
    assert [r["event"] for r in _records(first)] == ["one"]
    assert _records(second)[0]["run"] == 2


def test_stdlib_records_go_through_the_same_renderer() -> None:
    """Third-party `logging` records come out as the same JSON lines, exceptions included."""
    out = io.StringIO()
    configure_logging("debug", json=True, stream=out)
    lib = logging.getLogger("thirdparty.http")
    lib.debug("connecting to %s", "example")
    try:
        raise OSError("refused")
    except OSError:
        lib.exception("request failed")
    records = _records(out)
    assert records[0] == {
        "ts": records[0]["ts"],
        "level": "debug",
        "logger": "thirdparty.http",
        "event": "connecting to example",
    }
    assert records[1]["level"] == "error"
    assert "OSError: refused" in str(records[1]["exception"])


def test_plain_structlog_get_logger_uses_pipeline() -> None:
    """structlog.get_logger() elsewhere in the code goes through the same pipeline."""
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    structlog.get_logger().warning("plain structlog", a=1)
    (record,) = _records(out)
    assert record["level"] == "warning"
    assert record["a"] == 1


def test_level_filtering_and_exception() -> None:
    """Records below the level are dropped; exception() adds the formatted traceback."""
    out = io.StringIO()
    configure_logging("warning", json=True, stream=out)
    log = get_logger("x")
    log.info("hidden")
    logging.getLogger("lib").info("hidden too")
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("crashed", step=3)
    (record,) = _records(out)
    assert record["level"] == "error"
    assert record["step"] == 3
    assert str(record["exception"]).endswith("ZeroDivisionError: division by zero")


def test_redaction_of_configured_and_added_values() -> None:
    """Secrets given to configure_logging or add_redactions never reach the output."""
    out = io.StringIO()
    configure_logging(json=True, stream=out, redact=["s3cr3t-key"])
    add_redactions(["tg-token-123"])
    log = get_logger("x")
    log.info("auth", key="s3cr3t-key", url="https://api/bottg-token-123/send")
    logging.getLogger("lib").warning("using s3cr3t-key")
    text = out.getvalue()
    assert "s3cr3t" not in text
    assert "tg-token-123" not in text
    records = _records(out)
    assert records[0]["key"] == "***"
    assert records[0]["url"] == "https://api/bot***/send"
    assert records[1]["event"] == "using ***"


def test_log_event_marks_business_events() -> None:
    """log_event adds kind=event to an INFO record."""
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    log_event(get_logger("bot"), "order_filled", order_id="o1", qty=0.5)
    (record,) = _records(out)
    assert record["kind"] == "event"
    assert record["event"] == "order_filled"
    assert record["qty"] == 0.5


def test_readable_mode_and_auto_detection() -> None:
    """json=False gives readable lines; json=None on a non-terminal stream gives JSON."""
    out = io.StringIO()
    configure_logging(json=False, stream=out)
    get_logger("keeper").info("started", instances=3)
    line = out.getvalue().rstrip("\n")
    assert re.match(r"^\S+Z INFO     keeper: started instances=3$", line)
    auto = io.StringIO()
    configure_logging(stream=auto)
    get_logger("keeper").info("auto")
    assert _records(auto)[0]["event"] == "auto"


def test_unknown_level_is_an_error() -> None:
    """A misspelt level is refused with the allowed names."""
    with pytest.raises(ValueError, match="unknown log level 'verbose'"):
        configure_logging("verbose", stream=io.StringIO())


def test_keeper_logging_into_the_sink(make_sink: Callable[..., LogSink], tmp_path: Path) -> None:
    """configure_logging(stream=sink.stream_for('keeper')) fills the keeper's three files."""
    sink = make_sink()
    sink.start()
    configure_logging(stream=sink.stream_for("keeper"), redact=["pa55word"])
    log = get_logger("gridkeeper.keeper")
    log.info("instance started", name="bot1", password="pa55word")
    log.error("instance crashed", name="bot1", exit_code=1)
    add_redactions(["late-added-secret"])
    log.warning("restarting", instance="bot1", detail="late-added-secret")
    assert sink.flush()
    logs = tmp_path / "logs"
    structured = [
        json.loads(line) for line in log_path(logs, "keeper", "structured").read_text().splitlines()
    ]
    assert [r["event"] for r in structured] == [
        "instance started",
        "instance crashed",
        "restarting",
    ]
    # A field named like a tag is kept under another name; secrets added later are masked too.
    assert structured[2]["field_instance"] == "bot1"
    assert structured[2]["detail"] == "***"
    assert "late-added-secret" not in log_path(logs, "keeper").read_text()
    assert structured[0]["password"] == "***"
    assert structured[0]["instance"] == "keeper"
    assert structured[0]["logger"] == "gridkeeper.keeper"
    errors = log_path(logs, "keeper", "errors").read_text().splitlines()
    assert len(errors) == 1
    assert "gridkeeper.keeper: instance crashed name=bot1 exit_code=1" in errors[0]


def test_sink_records_keep_renames_and_exceptions(
    make_sink: Callable[..., LogSink], tmp_path: Path
) -> None:
    """Records that need work (reserved keys, exc_info, a non-str event) still get it on the way
    to the sink; plain ones go straight through."""
    sink = make_sink()
    sink.start()
    configure_logging(stream=sink.stream_for("keeper"))
    log = get_logger("gk")
    log.bind(level="ctx").info("renamed", ts=1, logger="other", event_id=3)
    log.info(12345)
    try:
        raise KeyError("k")
    except KeyError:
        log.exception("failed", step=2)
    log.info("plain", n=1)
    assert sink.flush()
    path = log_path(tmp_path / "logs", "keeper", "structured")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0]["field_level"] == "ctx"
    assert records[0]["field_ts"] == 1
    assert records[0]["field_logger"] == "other"
    assert (records[0]["level"], records[0]["logger"], records[0]["event_id"]) == ("info", "gk", 3)
    assert records[1]["event"] == "12345"
    assert records[2]["level"] == "error"
    assert str(records[2]["exception"]).endswith("KeyError: 'k'")
    assert "exc_info" not in records[2]
    assert (records[3]["event"], records[3]["n"]) == ("plain", 1)
    readable = log_path(tmp_path / "logs", "keeper").read_text()
    assert "gk: failed step=2\nTraceback (most recent call last):" in readable
