"""The writer's batches: one write per file per batch must equal writing record by record.

Batches are masked whole, checked for rotation whole, and fall back to record by record when a
batch crosses a rotation or a secret spans lines. These tests pin the result to what writing
one record at a time gives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from gridkeeper.logs import LogSink, SinkConfig
from gridkeeper.logs.records import ERROR, INFO
from gridkeeper.logs.sink_writer import _BATCH_LINES

MakeSink = Callable[..., LogSink]
SECRET = "sk-live-4f9a8b7c"
TS0 = 1_714_564_800.0


def _contents(directory: Path, live: str) -> list[str]:
    """Each file of one kind, oldest first (rotated names sort in time order, the live one last)."""
    rotated = sorted(p for p in directory.iterdir() if p.name.startswith(live + "."))
    return [p.read_text() for p in [*rotated, directory / live]]


def _submit_records(sink: LogSink, count: int, *, flush_each: bool) -> None:
    for i in range(count):
        fields: dict[str, object] = {"i": i, "pad": "x" * (i % 37)}
        if i % 97 == 0:
            fields["key"] = SECRET
        level = ERROR if i % 11 == 0 else INFO
        sink.submit_record("bot1", "stdout", TS0 + i * 0.0005, level, "gk", f"event {i}", fields)
        if flush_each:
            assert sink.flush()


def test_batches_equal_record_by_record_across_rotations(tmp_path: Path) -> None:
    """Big batches and batches of one record give the same files, split at the same records."""
    sinks = {
        name: LogSink(
            SinkConfig(
                log_dir=tmp_path / name,
                rotate_bytes=6000,
                compress=False,
                backups=1000,
                redact=frozenset({SECRET}),
            )
        )
        for name in ("batched", "single")
    }
    try:
        _submit_records(sinks["batched"], 400, flush_each=False)
        sinks["batched"].start()
        assert sinks["batched"].flush()
        sinks["single"].start()
        _submit_records(sinks["single"], 400, flush_each=True)
    finally:
        for sink in sinks.values():
            sink.close(timeout=10)
    assert sinks["batched"].stats["rotations"] == sinks["single"].stats["rotations"] > 3
    for live in ("bot1.log", "bot1_errors.log", "bot1_structured.log"):
        batched = _contents(tmp_path / "batched" / "bot1", live)
        single = _contents(tmp_path / "single" / "bot1", live)
        assert batched == single
        assert all(len(text.encode()) <= 6000 for text in batched)
        assert SECRET not in "".join(batched)
        # Secrets sit in records 0, 97, 194, ...; of those only record 0 is also an ERROR.
        assert "".join(batched).count("***") == (1 if live == "bot1_errors.log" else 5)


def test_secrets_masked_on_both_sides_of_batch_boundaries(
    make_sink: MakeSink, tmp_path: Path
) -> None:
    """Records around each 4096-record batch boundary, and around rotations, are all masked."""
    count = 2 * _BATCH_LINES + 50
    near_edge = {n + d for n in (_BATCH_LINES, 2 * _BATCH_LINES) for d in (-2, -1, 0, 1)}
    sink = make_sink(rotate_bytes=300_000, compress=False, backups=1000, redact={SECRET})
    # Not started yet: the writer then drains full batches, so the boundaries fall where known.
    for i in range(count):
        text = f"n={i:05d} token={SECRET}" if i in near_edge or i % 500 == 0 else f"n={i:05d}"
        sink.submit("bot1", "stdout", text)
    sink.start()
    assert sink.flush()
    directory = tmp_path / "logs" / "bot1"
    assert sink.stats["rotations"] >= 2
    readable = "".join(_contents(directory, "bot1.log"))
    structured = "".join(_contents(directory, "bot1_structured.log"))
    assert SECRET not in readable
    assert SECRET not in structured
    secret_lines = len(near_edge) + len(range(0, count, 500))
    assert readable.count("token=***") == secret_lines
    messages = [json.loads(line)["msg"] for line in structured.splitlines()]
    assert [int(m.split()[0][2:]) for m in messages] == list(range(count))
    assert sum(m.endswith("token=***") for m in messages) == secret_lines


def test_secret_spanning_lines_masked_in_every_file(make_sink: MakeSink, tmp_path: Path) -> None:
    """A multi-line secret (a PEM key) inside a traceback record is masked record by record."""
    pem = "KEYSTART\n  KEYEND"
    sink = make_sink(redact={pem})
    sink.start()
    sink.submit("bot1", "stderr", "before")
    for line in (
        "Traceback (most recent call last):",
        '  File "bot.py", line 3, in <module> KEYSTART',
        "  KEYEND",
        "ValueError: bad key",
    ):
        sink.submit("bot1", "stderr", line)
    sink.submit("bot1", "stdout", "after")
    assert sink.flush()
    for kind in ("bot1.log", "bot1_errors.log", "bot1_structured.log"):
        text = (tmp_path / "logs" / "bot1" / kind).read_text()
        assert "KEYSTART" not in text
        assert "KEYEND" not in text
        assert "***" in text
    readable = (tmp_path / "logs" / "bot1" / "bot1.log").read_text().splitlines()
    assert readable[0].endswith("WARNING  before")
    assert any(line.endswith("INFO     after") for line in readable)
    assert readable[-1] == "ValueError: bad key"
