"""HTTP answers are classified into retry / never retry / unknown outcome."""

from __future__ import annotations

import orjson

from gridkeeper.exchange.errors import (
    AuthError,
    RejectedError,
    RetryableError,
    UnknownOutcomeError,
    error_from_response,
)


def _body(code: str, message: str = "m") -> bytes:
    return orjson.dumps({"code": code, "message": message})


def test_429_is_retryable_with_retry_after() -> None:
    """429 honours Retry-After, for reads and orders alike (the order was not taken)."""
    err = error_from_response(
        429, _body("TOO_MANY_REQUESTS"), {"retry-after": "2.5"}, order_post=True
    )
    assert isinstance(err, RetryableError)
    assert err.retry_after_s == 2.5


def test_order_rejections_are_never_retryable() -> None:
    """A 400 on an order is a rejection carrying Backpack's code."""
    err = error_from_response(400, _body("INSUFFICIENT_FUNDS"), {}, order_post=True)
    assert isinstance(err, RejectedError) and not isinstance(err, AuthError)
    assert err.code == "INSUFFICIENT_FUNDS"
    post_only = error_from_response(
        400,
        _body("INVALID_ORDER", "Order would immediately match and take (PostOnlyTaker)"),
        {},
        order_post=True,
    )
    assert post_only.reason == "PostOnlyTaker"


def test_500_on_order_post_is_unknown_outcome_but_maintenance_is_retryable() -> None:
    """A 500 after an order POST may hide an accepted order; MAINTENANCE never does."""
    assert isinstance(
        error_from_response(500, _body("SERVER_ERROR"), {}, order_post=True), UnknownOutcomeError
    )
    assert isinstance(error_from_response(500, b"oops", {}, order_post=False), RetryableError)
    assert isinstance(
        error_from_response(503, _body("MAINTENANCE"), {}, order_post=True), RetryableError
    )


def test_401_is_auth_error_and_non_json_body_is_tolerated() -> None:
    """401 maps to AuthError, except an expired request (a clock step: retry, re-signed); a
    proxy's HTML body still yields a readable message."""
    err = error_from_response(
        401, _body("INVALID_CLIENT_REQUEST", "Invalid signature"), {}, order_post=False
    )
    assert isinstance(err, AuthError)
    expired = error_from_response(
        401, _body("INVALID_CLIENT_REQUEST", "Request has expired"), {}, order_post=True
    )
    assert isinstance(expired, RetryableError) and not isinstance(expired, AuthError)
    assert "expired" in str(expired) and "clock" in str(expired)
    html = error_from_response(404, b"<html>nope</html>", {}, order_post=False)
    assert isinstance(html, RejectedError)
    assert "nope" in html.message


def test_fill_without_trade_id_gets_a_stable_distinct_key() -> None:
    """`tradeId` is optional in Backpack's schema: two such fills must not collapse into one."""
    from gridkeeper.exchange.models import Fill

    base = {
        "orderId": "7",
        "symbol": "SOL_USDC",
        "side": "Bid",
        "price": "100",
        "quantity": "1",
        "timestamp": "2026-01-01T00:00:00.000",
    }
    one = Fill.from_api(base)
    two = Fill.from_api({**base, "quantity": "2"})
    assert one.trade_id and one.trade_id != two.trade_id
    assert Fill.from_api(base).trade_id == one.trade_id
    assert Fill.from_api({**base, "tradeId": 55}).trade_id == "55"
