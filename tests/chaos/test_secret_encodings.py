"""Secrets in encoded form (issue 11, fault 8): a URL-encoded, base64 (also inside a longer
base64 text such as HTTP Basic auth), or hex copy of a secret is masked in every log file the
sink writes, as the plain value always was."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from gridkeeper.logs import LogSink, SinkConfig
from gridkeeper.logs.redact import Redactor

SECRET = "s3cr+t/Key=with spaces&more=Zz9"


def copies(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "plain": secret,
        "url": quote(secret, safe=""),
        "url-path": quote(secret),
        "url-plus": quote_plus(secret),
        "base64": base64.b64encode(raw).decode(),
        "base64-url": base64.urlsafe_b64encode(raw).decode(),
        "basic-auth": base64.b64encode(b"user:" + raw).decode(),
        "basic-auth-2": base64.b64encode(b"us:" + raw + b"!").decode(),
        "basic-auth-3": base64.b64encode(b"u:" + raw).decode(),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "json": json.dumps(secret)[1:-1],
    }


@pytest.mark.parametrize("secret", [SECRET, "abcdef", "ü-unicode-sécret-42"])
def test_every_encoding_is_masked(secret: str) -> None:
    redact = Redactor([secret])
    for name, copy in copies(secret).items():
        masked = redact(f"GET /x?token={copy} done")
        assert copy not in masked, name
        assert "***" in masked, name
        assert masked.endswith(" done"), name  # the rest of the line is kept


def test_the_sink_masks_encoded_copies_in_every_file(tmp_path: Path) -> None:
    sink = LogSink(SinkConfig(log_dir=tmp_path, compress=False, redact=frozenset({SECRET})))
    sink.start()
    for name, copy in copies(SECRET).items():
        sink.submit("bot", "stdout", f"{name}: {copy}")
        sink.submit("bot", "stderr", f'{{"level":"error","message":"{name} {copy}"}}')
    assert sink.flush()
    sink.close()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    text = "\n".join(p.read_text() for p in files)
    assert text.count("***") >= 2 * len(copies(SECRET))
    for name, copy in copies(SECRET).items():
        assert copy not in text, name
