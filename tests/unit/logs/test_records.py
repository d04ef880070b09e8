"""Levels of plain and JSON lines, and grouping of Python tracebacks."""

from __future__ import annotations

import pytest

from gridkeeper.logs.records import (
    _UPPER_WORDS,
    CRITICAL,
    DEBUG,
    ERROR,
    INFO,
    WARNING,
    Record,
    StreamParser,
    TracebackTracker,
    looks_severe,
    parse_plain_level,
    plain_level,
)


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("ERROR:root:connection lost", ERROR),
        ("WARNING:ccxt:slow response", WARNING),
        ("CRITICAL:bot:margin call", CRITICAL),
        ("2024-05-01 12:00:00,123 - grid - ERROR - order rejected", ERROR),
        ("2024-05-01 12:00:00 [warning] spread wide", WARNING),
        ("[INFO] placed 10 orders", INFO),
        ("time=2024 level=debug msg=tick", DEBUG),
        ("FATAL: cannot open database", CRITICAL),
        ("<error> bad", ERROR),
    ],
)
def test_plain_level_parsed_from_common_prefixes(line: str, level: int) -> None:
    """Levels written by common formats near the start of a line are recognised."""
    assert parse_plain_level(line) == level


def test_plain_level_defaults_by_stream() -> None:
    """A line naming no level is INFO on stdout and WARNING on stderr."""
    assert plain_level("placed 10 orders", "stdout") == INFO
    assert plain_level("placed 10 orders", "stderr") == WARNING


def test_level_word_deep_in_message_is_not_a_level() -> None:
    """Only the start of a line is searched, and lower-case words inside text do not count."""
    assert parse_plain_level("order filled; no error") is None
    assert parse_plain_level("x" * 90 + " ERROR") is None
    assert parse_plain_level("TERRORISM is not a level") is None


def _feed(parser: StreamParser, lines: list[str]) -> list[Record]:
    out: list[Record] = []
    for line in lines:
        out.extend(parser.feed(line, 1.0))
    return out


def test_traceback_becomes_one_error_record() -> None:
    """Header, frames and final line form one ERROR record; the next line is its own record."""
    tb = [
        "Traceback (most recent call last):",
        '  File "bot.py", line 3, in <module>',
        "    main()",
        '  File "bot.py", line 2, in main',
        "    raise ValueError('bad price')",
        "ValueError: bad price",
    ]
    parser = StreamParser("stderr")
    records = _feed(parser, [*tb, "restarting"])
    assert [r.level for r in records] == [ERROR, WARNING]
    assert records[0].text == "\n".join(tb)
    assert records[0].traceback
    assert records[0].lines == len(tb)
    assert records[1].text == "restarting"
    assert not parser.pending


def test_chained_traceback_stays_one_record() -> None:
    """'During handling...' and 'direct cause' chains are part of the same record."""
    tb = [
        "Traceback (most recent call last):",
        '  File "a.py", line 1, in <module>',
        "ZeroDivisionError: division by zero",
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        '  File "a.py", line 3, in <module>',
        "KeyError: 'x'",
    ]
    parser = StreamParser("stderr")
    assert _feed(parser, tb) == []
    assert parser.pending
    records = parser.flush()
    assert len(records) == 1
    assert records[0].text.endswith("KeyError: 'x'")
    assert "ZeroDivisionError" in records[0].text


def test_exception_group_traceback_grouped() -> None:
    """Python 3.11 exception group output (indented, boxed) is one record."""
    tb = [
        "  + Exception Group Traceback (most recent call last):",
        '  |   File "x.py", line 4, in <module>',
        "  | ExceptionGroup: eg (2 sub-exceptions)",
        "  +-+---------------- 1 ----------------",
        "    | ValueError: a",
        "    +------------------------------------",
    ]
    parser = StreamParser("stderr")
    records = _feed(parser, [*tb, "next line"])
    assert len(records) == 2
    assert records[0].level == ERROR
    assert records[0].text == "\n".join(tb)


def test_new_traceback_after_final_line_starts_new_record() -> None:
    """Two tracebacks back to back (no chain separator) are two records."""
    one = ["Traceback (most recent call last):", '  File "a", line 1', "OSError: one"]
    two = ["Traceback (most recent call last):", '  File "b", line 2', "OSError: two"]
    parser = StreamParser("stderr")
    records = _feed(parser, [*one, *two]) + parser.flush()
    assert [r.text.splitlines()[-1] for r in records] == ["OSError: one", "OSError: two"]


def test_blank_line_between_two_tracebacks_does_not_chain_them() -> None:
    """A blank line alone is no chain: the next header starts a new record."""
    one = ["Traceback (most recent call last):", '  File "a", line 1', "OSError: one"]
    two = ["Traceback (most recent call last):", '  File "b", line 2', "OSError: two"]
    parser = StreamParser("stderr")
    records = _feed(parser, [*one, "", *two]) + parser.flush()
    assert [r.text.splitlines()[0] for r in records] == [one[0], two[0]]
    assert [r.text.splitlines()[-1] for r in records] == ["OSError: one", "OSError: two"]
    assert all(r.level == ERROR for r in records)


def test_traceback_on_stdout_is_not_grouped() -> None:
    """Grouping applies to stderr; stdout lines stay lines."""
    parser = StreamParser("stdout")
    records = _feed(parser, ["Traceback (most recent call last):", "  x", "E: y"])
    assert len(records) == 3


def test_json_line_keeps_fields_and_level() -> None:
    """A JSON object line keeps its fields; its level field decides the level."""
    parser = StreamParser("stdout")
    (record,) = parser.feed('{"level": "error", "event": "rejected", "order": 7}', 1.0)
    assert record.level == ERROR
    assert record.fields == {"level": "error", "event": "rejected", "order": 7}
    (record,) = parser.feed('{"levelname": "WARNING", "msg": "x"}', 1.0)
    assert record.level == WARNING
    (record,) = parser.feed('{"level": 50}', 1.0)
    assert record.level == CRITICAL


def test_json_like_but_invalid_line_is_plain() -> None:
    """A line that only looks like JSON is treated as text."""
    parser = StreamParser("stdout")
    (record,) = parser.feed("{not json", 1.0)
    assert record.fields is None
    assert record.level == INFO


def test_looks_severe_keeps_error_and_traceback_lines() -> None:
    """The overflow check keeps anything that may become an ERROR+ record."""
    assert looks_severe("ERROR:root:x", "stdout")
    assert looks_severe('{"level":"critical","event":"x"}', "stdout")
    assert looks_severe("Traceback (most recent call last):", "stderr")
    assert looks_severe("    foo()", "stderr", in_traceback=True)
    assert looks_severe("ValueError: bad", "stderr", in_traceback=True)
    # Outside a traceback an indented or blank line is an ordinary line.
    assert not looks_severe("    foo()", "stderr")
    assert not looks_severe("", "stderr")
    assert not looks_severe("tick 42", "stdout")
    assert not looks_severe('{"level":"info","event":"x"}', "stdout")
    assert not looks_severe("a warning of sorts", "stderr")


def test_every_level_word_passes_the_quick_filter() -> None:
    """Lines without E, I or A skip the level regex: every upper-case level word holds one."""
    assert all({"E", "I", "A"} & set(word) for word in _UPPER_WORDS)


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("ERRORS are counted", None),
        ("xINFO yDEBUG", None),
        ("CRITICALLY fine, WARN: slow", WARNING),
        ("CRITICAL", CRITICAL),
        ("ERR_x ERR", ERROR),
        ("2024-05-01 12:00:00 tick 7 price=1 grid=ok", None),
        ("élan INFO", INFO),
    ],
)
def test_level_word_must_stand_alone(line: str, level: int | None) -> None:
    """A level word inside a longer word does not count; the first standalone one does."""
    assert parse_plain_level(line) == level


def test_traceback_tracker_follows_a_traceback_and_only_it() -> None:
    """Frames, chain lines and the final line belong to a traceback; other lines end it."""
    tracker = TracebackTracker()
    assert not tracker.step("bot", "    indented noise")
    assert not tracker.step("bot", b"")
    assert tracker.step("bot", b"Traceback (most recent call last):\n")
    assert tracker.step("bot", '  File "x.py", line 1')
    assert tracker.step("other", "Traceback (most recent call last):")
    assert tracker.step("bot", "ValueError: bad")
    assert tracker.step("bot", "")
    assert tracker.step(
        "bot", "During handling of the above exception, another exception occurred:"
    )
    assert not tracker.step("bot", "tick 42")
    assert not tracker.step("bot", "    indented noise")
    assert tracker.step("other", "    run()")
