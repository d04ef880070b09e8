"""Redactor: text and UTF-8 bytes masked alike, linked redactors, secrets spanning lines."""

from __future__ import annotations

import orjson

from gridkeeper.logs.redact import Redactor


def test_bytes_and_text_are_masked_alike() -> None:
    """redact_bytes() of UTF-8 text is the UTF-8 of redacting the text, escaped forms included."""
    redactor = Redactor(["hunter2", 'q"uo\\te', "ключ-ü", "hunter2-long"])
    text = (
        "login hunter2 and hunter2-long, "
        + orjson.dumps({"k": 'q"uo\\te'}).decode()
        + " ключ-ü/ключ-üx"
    )
    masked = redactor(text)
    assert redactor.redact_bytes(text.encode()) == masked.encode()
    assert "hunter2" not in masked
    assert "ключ" not in masked
    assert "uo" not in masked
    # The longer secret is masked whole, not as "***-long".
    assert "-long" not in masked


def test_linked_redactor_values_reach_bytes_too() -> None:
    """A value added later to a linked redactor is masked in bytes as well."""
    own, linked = Redactor(["alpha-secret"]), Redactor()
    own.link(linked)
    linked.add(["beta-secret"])
    assert own.redact_bytes(b"alpha-secret beta-secret") == b"*** ***"


def test_crosses_lines_only_for_values_with_a_newline() -> None:
    """Batches may be masked whole unless a secret spans lines."""
    redactor = Redactor(["plain"])
    assert not redactor.crosses_lines
    redactor.add(["two\nlines"])
    assert redactor.crosses_lines
    assert redactor.redact_bytes(b"x two\nlines y") == b"x *** y"


def test_values_shorter_than_six_characters_are_reported_not_masked() -> None:
    """Masking "s" would turn "started" into "***tarted": short values are counted instead."""
    redactor = Redactor()
    assert redactor.add(["s", "12345", "123456", ""]) == 2
    assert redactor("started with 12345 and 123456") == "started with 12345 and ***"
    assert redactor.add(["s", "abc"]) == 2
    assert redactor.unmasked == 3
