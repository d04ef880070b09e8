"""LogSink: the three files, levels, traceback grouping, redaction, overflow and draining."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from gridkeeper.logs import LogSink
from gridkeeper.logs.reader import log_path
from tests.support import wait_for

MakeSink = Callable[..., LogSink]


def _lines(log_dir: Path, instance: str, kind: str = "log") -> list[str]:
    path = log_path(log_dir, instance, kind)  # type: ignore[arg-type]
    return path.read_text().splitlines()


def _structured(log_dir: Path, instance: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in _lines(log_dir, instance, "structured")]


def test_plain_and_json_lines_land_in_three_files(make_sink: MakeSink, tmp_path: Path) -> None:
    """Plain text and JSON lines are written readable, errors-only and structured."""
    sink = make_sink()
    sink.start()
    sink.submit("bot1", "stdout", b"placed 10 orders\n")
    sink.submit("bot1", "stdout", '{"level": "error", "event": "rejected", "order": 7}')
    sink.submit("bot1", "stderr", "ERROR:ccxt:timeout")
    sink.submit("bot1", "stderr", "just noise")
    assert sink.flush()
    logs = tmp_path / "logs"

    readable = _lines(logs, "bot1")
    assert len(readable) == 4
    assert readable[0].endswith("INFO     placed 10 orders")
    assert "ERROR    rejected order=7" in readable[1]
    assert "ERROR    ERROR:ccxt:timeout" in readable[2]
    assert "WARNING  just noise" in readable[3]

    errors = _lines(logs, "bot1", "errors")
    assert errors == [readable[1], readable[2]]

    structured = _structured(logs, "bot1")
    assert [r["level"] for r in structured] == ["info", "error", "error", "warning"]
    assert all(r["instance"] == "bot1" for r in structured)
    assert [r["stream"] for r in structured] == ["stdout", "stdout", "stderr", "stderr"]
    assert structured[0]["msg"] == "placed 10 orders"
    assert structured[1]["event"] == "rejected"
    assert structured[1]["order"] == 7
    assert str(structured[0]["ts"]).endswith("Z")


def test_traceback_on_stderr_is_one_error_record(make_sink: MakeSink, tmp_path: Path) -> None:
    """A traceback written line by line becomes one ERROR record once the stream goes quiet."""
    tb = [
        "Traceback (most recent call last):",
        '  File "bot.py", line 9, in <module>',
        "    run()",
        "RuntimeError: exchange unreachable",
    ]
    sink = make_sink()
    sink.start()
    for line in tb:
        sink.submit("bot1", "stderr", line + "\n")
    errors = log_path(tmp_path / "logs", "bot1", "errors")
    # No flush(): the record must come out by itself after the quiet period.
    wait_for(lambda: "RuntimeError" in _read(errors), 5, "the grouped traceback")
    structured = _structured(tmp_path / "logs", "bot1")
    assert len(structured) == 1
    assert structured[0]["level"] == "error"
    assert structured[0]["msg"] == "RuntimeError: exchange unreachable"
    assert structured[0]["traceback"] == "\n".join(tb)
    readable = _lines(tmp_path / "logs", "bot1")
    assert readable[0].endswith("ERROR    Traceback (most recent call last):")
    assert readable[1:] == tb[1:]
    assert sink.stats["written"] == 4


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_redaction_in_all_three_files(make_sink: MakeSink, tmp_path: Path) -> None:
    """Configured and added secrets are *** in the readable, errors and structured files."""
    sink = make_sink(redact=frozenset({"hunter2"}))
    sink.start()
    sink.add_redactions(['tok"en\\9'])
    sink.submit("bot1", "stderr", "ERROR: login with hunter2 failed")
    sink.submit("bot1", "stdout", '{"level":"error","event":"auth","key":"tok\\"en\\\\9"}')
    sink.submit("bot1", "stderr", "Traceback (most recent call last):")
    sink.submit("bot1", "stderr", "  File 'x', line 1, password=hunter2")
    sink.submit("bot1", "stderr", "ValueError: hunter2")
    assert sink.flush()
    for kind in ("log", "errors", "structured"):
        text = log_path(tmp_path / "logs", "bot1", kind).read_text()  # type: ignore[arg-type]
        assert "hunter2" not in text
        assert "tok" not in text
        assert text.count("***") >= 4
    structured = _structured(tmp_path / "logs", "bot1")
    assert structured[1]["key"] == "***"


def test_overflow_drops_low_severity_keeps_errors_and_logs_count(
    make_sink: MakeSink, tmp_path: Path
) -> None:
    """With the queue full, INFO lines are dropped and counted; ERROR lines all get through."""
    sink = make_sink(queue_size=1000)
    # Not started yet: nothing drains, so the queue fills deterministically.
    for i in range(1000):
        sink.submit("bot1", "stdout", f"fill {i}")
    for i in range(500):
        sink.submit("bot1", "stdout", f"chatter {i}")
        if i % 25 == 0:
            sink.submit("bot1", "stdout", f"ERROR kept {i}")
    sink.submit("bot1", "stderr", "Traceback (most recent call last):")
    sink.submit("bot1", "stderr", '  File "x.py", line 1')
    sink.submit("bot1", "stderr", "KeyError: 'k'")
    assert sink.stats["dropped"] == 500
    sink.start()
    assert sink.flush()

    readable = _lines(tmp_path / "logs", "bot1")
    assert not any("chatter" in line for line in readable)
    assert sum("fill" in line for line in readable) == 1000
    kept = [line for line in _lines(tmp_path / "logs", "bot1", "errors") if "kept" in line]
    assert len(kept) == 20
    structured = _structured(tmp_path / "logs", "bot1")
    drops = [r for r in structured if r.get("dropped") is not None]
    assert len(drops) == 1
    assert drops[0]["dropped"] == 500
    assert drops[0]["level"] == "warning"
    assert any(r.get("traceback", "").endswith("KeyError: 'k'") for r in structured)  # type: ignore[union-attr]
    stats = sink.stats
    assert stats["submitted"] == 1000 + 500 + 20 + 3
    assert stats["written"] == 1000 + 20 + 3


def test_close_drains_everything(make_sink: MakeSink, tmp_path: Path) -> None:
    """Lines submitted right before close() are all on disk after it returns."""
    sink = make_sink()
    sink.start()
    for i in range(20_000):
        sink.submit("bot1", "stdout", f"n={i}")
    sink.close()
    readable = _lines(tmp_path / "logs", "bot1")
    assert len(readable) == 20_000
    assert readable[-1].endswith("n=19999")
    sink.submit("bot1", "stdout", "after close")
    assert sink.stats["dropped"] == 1


def test_stream_for_splits_written_text_into_lines(make_sink: MakeSink, tmp_path: Path) -> None:
    """Text written in pieces becomes one record per complete line."""
    sink = make_sink()
    sink.start()
    stream = sink.stream_for("keeper")
    stream.write("part one, ")
    stream.write("part two\nsecond line\nthird")
    stream.flush()
    assert sink.flush()
    assert [line.split("INFO     ")[1] for line in _lines(tmp_path / "logs", "keeper")] == [
        "part one, part two",
        "second line",
    ]
    stream.close()
    assert sink.flush()
    assert _lines(tmp_path / "logs", "keeper")[-1].endswith("third")


def test_bad_instance_name_rejected(make_sink: MakeSink) -> None:
    """An instance name that is not a plain directory name is refused up front."""
    sink = make_sink()
    for name in ("../etc", "a/b", "", ".."):
        try:
            sink.submit(name, "stdout", "x")
        except ValueError as exc:
            assert "instance name" in str(exc)
        else:
            raise AssertionError(f"{name!r} accepted")


def test_rotation_compresses_and_recreates_files(make_sink: MakeSink, tmp_path: Path) -> None:
    """Passing rotate_bytes rotates all three files; rotated files end up gzipped."""
    sink = make_sink(rotate_bytes=4096, backups=100)
    sink.start()
    for i in range(400):
        sink.submit("bot1", "stdout", f"ERROR line {i:04d} " + "x" * 40)
    sink.close()
    directory = tmp_path / "logs" / "bot1"
    names = sorted(p.name for p in directory.iterdir())
    rotated = [n for n in names if n.endswith(".gz")]
    assert any(n.startswith("bot1.log.") for n in rotated)
    assert any(n.startswith("bot1_errors.log.") for n in rotated)
    assert any(n.startswith("bot1_structured.log.") for n in rotated)
    assert not [n for n in names if n.endswith(".tmp")]
    assert sink.stats["rotations"] == len(rotated)
    for name in ("bot1.log", "bot1_errors.log", "bot1_structured.log"):
        assert (directory / name).stat().st_size <= 4096


def test_indented_lines_cannot_bypass_the_queue_bound(make_sink: MakeSink, tmp_path: Path) -> None:
    """Indented and blank stderr lines outside a traceback are dropped like any chatter, and
    past the hard cap (4x queue_size) even a traceback's lines are dropped, counted as ERROR."""
    sink = make_sink(queue_size=10)
    for i in range(10):
        sink.submit("bot1", "stdout", f"fill {i}")
    for i in range(20_000):
        sink.submit("bot1", "stderr", "    indented" if i % 2 else "")
    assert sink.stats["queued"] == 10
    sink.submit("bot1", "stderr", "Traceback (most recent call last):")
    for i in range(100):
        sink.submit("bot1", "stderr", f'  File "x.py", line {i}')
    sink.submit("bot1", "stdout", "ERROR over the cap")
    sink.submit_record("bot1", "stdout", time.time(), 40, "bot", "own error over the cap", {})
    assert sink.stats["queued"] == 40
    assert sink.stats["dropped"] == 20_000 + 71 + 2
    sink.start()
    assert sink.flush()

    structured = _structured(tmp_path / "logs", "bot1")
    drops = {r["level"]: r["dropped"] for r in structured if r.get("dropped") is not None}
    assert drops == {"warning": 20_000, "error": 73}
    errors = "\n".join(_lines(tmp_path / "logs", "bot1", "errors"))
    assert "dropped error lines dropped=73" in errors
    assert "over the cap" not in errors


def test_short_secrets_are_not_masked_and_one_warning_counts_them(
    make_sink: MakeSink, tmp_path: Path
) -> None:
    """A secret under 6 characters is left alone (no "***tarted"); one WARNING per new batch
    of them tells their count to the keeper's log, never their value."""
    sink = make_sink(redact=frozenset({"s", "hunter2"}))
    assert sink.add_redactions(["pw1", "s"]) == 2
    assert sink.add_redactions(["pw1"]) == 1
    sink.start()
    sink.submit("bot1", "stdout", "started with hunter2")
    assert sink.flush()
    assert _lines(tmp_path / "logs", "bot1")[0].endswith("INFO     started with ***")
    notes = _structured(tmp_path / "logs", "keeper")
    assert [(r["level"], r["count"]) for r in notes] == [("warning", 1), ("warning", 1)]
    assert all(r["min_length"] == 6 for r in notes)
    keeper_text = log_path(tmp_path / "logs", "keeper", "structured").read_text()
    assert "pw1" not in keeper_text
