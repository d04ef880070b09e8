"""Signing matches Backpack's documentation byte for byte, and verification catches tampering."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from gridkeeper.exchange import signing

# RFC 8032 section 7.1, test 1: ED25519 over the empty message.
RFC_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_signing_string_matches_documentation_cancel_example() -> None:
    """The orderCancel example from Backpack's docs is reproduced exactly."""
    text = signing.signing_string(
        "orderCancel", {"symbol": "BTC_USDT", "orderId": 28}, 1614550000000, 5000
    )
    assert (
        text
        == "instruction=orderCancel&orderId=28&symbol=BTC_USDT&timestamp=1614550000000&window=5000"
    )


def test_signing_string_matches_documentation_batch_example() -> None:
    """The batch orderExecute example: one instruction per order, timestamp and window once."""
    orders = [
        {
            "symbol": "SOL_USDC_PERP",
            "side": "Bid",
            "orderType": "Limit",
            "price": "141",
            "quantity": "12",
        },
        {
            "symbol": "SOL_USDC_PERP",
            "side": "Bid",
            "orderType": "Limit",
            "price": "140",
            "quantity": "11",
        },
    ]
    text = signing.signing_string("orderExecute", orders, 1750793021519, 5000)
    assert text == (
        "instruction=orderExecute&orderType=Limit&price=141&quantity=12&side=Bid&symbol=SOL_USDC_PERP"
        "&instruction=orderExecute&orderType=Limit&price=140&quantity=11&side=Bid&symbol=SOL_USDC_PERP"
        "&timestamp=1750793021519&window=5000"
    )


def test_booleans_lowercase_decimals_plain_and_none_skipped() -> None:
    """Booleans are written true/false, Decimals without exponent, None values left out."""
    text = signing.signing_string(
        "orderExecute",
        {"postOnly": True, "reduceOnly": False, "price": Decimal("1E+2"), "clientId": None},
        1,
        5000,
    )
    assert (
        text == "instruction=orderExecute&postOnly=true&price=100&reduceOnly=false"
        "&timestamp=1&window=5000"
    )


def test_no_params_signs_only_instruction_timestamp_window() -> None:
    """A request without parameters signs the instruction, timestamp and window."""
    assert signing.signing_string("balanceQuery", {}, 5, 6000) == (
        "instruction=balanceQuery&timestamp=5&window=6000"
    )


def test_ed25519_matches_rfc8032_vector() -> None:
    """The seed-based key produces the RFC 8032 public key and signature."""
    seed_b64 = base64.b64encode(RFC_SEED).decode()
    assert signing.public_key_of(seed_b64) == base64.b64encode(RFC_PUBLIC).decode()
    assert signing.sign(b"", seed_b64) == base64.b64encode(RFC_SIGNATURE).decode()


def test_sign_request_headers_verify_and_tamper_fails() -> None:
    """Headers carry key, signature, timestamp, window; a changed param fails verification."""
    secret, public = signing.keygen()
    params = {"symbol": "SOL_USDC", "orderId": "7"}
    headers = signing.sign_request("orderCancel", params, secret, 1700000000000, 5000)
    assert headers["X-API-Key"] == public
    assert headers["X-Timestamp"] == "1700000000000"
    assert headers["X-Window"] == "5000"
    good = signing.signing_string("orderCancel", params, 1700000000000, 5000)
    assert signing.verify(good, headers["X-Signature"], public)
    bad = signing.signing_string("orderCancel", {**params, "orderId": "8"}, 1700000000000, 5000)
    assert not signing.verify(bad, headers["X-Signature"], public)
    _, other_public = signing.keygen()
    assert not signing.verify(good, headers["X-Signature"], other_public)
    assert not signing.verify(good, "not base64!", public)


def test_bad_secret_is_reported() -> None:
    """A secret that is not a base64 32-byte seed raises InvalidKeyError naming the problem."""
    with pytest.raises(signing.InvalidKeyError, match="32 bytes"):
        signing.sign("x", base64.b64encode(b"short").decode())


def test_signatures_match_cryptography_byte_for_byte() -> None:
    """The PyNaCl signer agrees with `cryptography`'s ED25519 (the previous signer) on keys,
    signatures and verification, so a switch of library cannot change what Backpack receives."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    for i in range(20):
        ref = Ed25519PrivateKey.generate()
        secret = base64.b64encode(ref.private_bytes_raw()).decode()
        public = base64.b64encode(ref.public_key().public_bytes_raw()).decode()
        message = f"instruction=orderExecute&price=100.{i}&timestamp=1700000000000&window=5000"
        assert signing.public_key_of(secret) == public
        ours = signing.sign(message, secret)
        assert base64.b64decode(ours) == ref.sign(message.encode())  # ED25519 is deterministic
        assert signing.verify(message, ours, public)
        ref.public_key().verify(base64.b64decode(ours), message.encode())  # raises if invalid


def test_verify_never_raises_on_malformed_input() -> None:
    """A short signature, a key that is not a curve point or not base64: False, not an error."""
    secret, public = signing.keygen()
    sig = signing.sign("m", secret)
    short = base64.b64encode(b"\x01" * 10).decode()
    assert not signing.verify("m", short, public)
    assert not signing.verify("m", sig, base64.b64encode(b"\xff" * 32).decode())
    assert not signing.verify("m", sig, base64.b64encode(b"\x00" * 31).decode())
    assert not signing.verify("m", sig, "%%%")
