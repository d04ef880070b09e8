"""R2 review: hostile input to the dashboard's HTTP API, against a real `gridkeeper web` process
in front of a real keeper (the fixtures of tests/integration/web). Every refusal must be a 4xx
with the dashboard's JSON error, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.operations.conftest import Ops, ops  # noqa: F401 (the fixture)
from tests.integration.web.conftest import Web, web  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration


def test_numbers_that_are_digits_but_not_ints_are_refused_not_500(
    ops: Ops,  # noqa: F811
    web: Web,  # noqa: F811
) -> None:
    """`str.isdigit()` is true for "²" and other Unicode digits that `int()` refuses, and an
    alert id past SQLite's 64 bits overflows the query: each was a 500."""
    ops.program("plain")
    assert ops.gk("start", "-d").returncode == 0
    for alert_id in ("%C2%B2", "99999999999999999999999"):
        answer = httpx.post(
            f"{web.url}/api/alerts/{alert_id}/ack", json={}, headers=web.auth(), timeout=10
        )
        assert answer.status_code in (400, 404), (alert_id, answer.status_code, answer.text)
        assert "error" in answer.json()
    log = httpx.get(
        f"{web.url}/api/grid/plain/log", params={"lines": "²"}, headers=web.auth(), timeout=10
    )
    assert log.status_code == 200, log.text
    assert isinstance(log.json()["lines"], list)
