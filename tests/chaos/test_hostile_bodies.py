"""Hostile request bodies (issue 11, fault 7): a body nested too deep or too big is a 400 on
every HTTP server we run (the bot's control API, the paper exchange), never a 500, and the
server goes on answering."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from gridkeeper.httpguard import MAX_BODY_BYTES, MAX_DEPTH, BodyError, depth_of, parse_json
from tests.integration.bot.conftest import Bot, Paper, make_bot, paper, paper_config

__all__ = ["make_bot", "paper", "paper_config"]

DEEP = b"[" * 100_000 + b"]" * 100_000  # stdlib json raised RecursionError on this: a 500
JUST_TOO_DEEP = b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1)
HUGE = b'{"grid_num": 5, "pad": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}'


def test_depth_and_size_limits_are_pure_checks() -> None:
    assert depth_of({"a": [1, {"b": []}]}) == 4
    assert depth_of(5) == 0
    for body in (DEEP, JUST_TOO_DEEP):
        with pytest.raises(BodyError, match="deeper than"):
            parse_json(body)
    with pytest.raises(BodyError, match="larger than"):
        parse_json(HUGE)
    nested_ok = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert depth_of(parse_json(nested_ok)) == MAX_DEPTH


@pytest.mark.parametrize("body", [DEEP, JUST_TOO_DEEP, HUGE, b"{not json"])
def test_the_bot_api_refuses_hostile_bodies_with_400(
    make_bot: Callable[..., Bot], body: bytes
) -> None:
    bot = make_bot("hostile").start()
    headers = {"Authorization": f"Bearer {bot.token}", "Content-Type": "application/json"}
    reply = httpx.post(bot.url + "/api/grid/adjust", content=body, headers=headers, timeout=10)
    assert reply.status_code == 400, reply.text
    assert reply.json()["field"] == "body"
    # A chunked body (no Content-Length) past the limit is refused too, without buffering it all.
    if body is HUGE:
        chunks = iter([body[i : i + 65536] for i in range(0, len(body), 65536)])
        reply = httpx.post(
            bot.url + "/api/grid/adjust", content=chunks, headers=headers, timeout=10
        )
        assert reply.status_code == 400
    assert bot.get("/health")["status"] == "healthy"
    assert "RecursionError" not in bot.output() and "Traceback" not in bot.output()


@pytest.mark.parametrize("body", [DEEP, JUST_TOO_DEEP, HUGE])
def test_the_paper_exchange_refuses_hostile_bodies_with_400(paper: Paper, body: bytes) -> None:
    for path in ("/_paper/price", "/api/v1/order"):
        reply = httpx.post(
            paper.url + path,
            content=body,
            headers={**paper.admin, "Content-Type": "application/json"},
            timeout=10,
        )
        assert reply.status_code == 400, (path, reply.text)
        assert reply.json()["code"] == "INVALID_CLIENT_REQUEST"
    ok = httpx.get(f"{paper.url}/api/v1/ticker?symbol=SOL_USDC", timeout=5)
    assert ok.status_code == 200
