"""ED25519 request signing exactly as Backpack documents it (see `info.description` of its OpenAPI).

The signed text is `instruction=<name>&<params sorted by key>&timestamp=<ms>&window=<ms>`;
booleans are written `true`/`false`. A batch signs `instruction=<name>&<sorted order fields>` per
order, joined by `&`, then the timestamp and window once. The paper exchange verifies with the
same functions, so a mismatch between the two sides is impossible by construction; the golden
tests pin both to the documentation's examples.

The signer is PyNaCl (libsodium, maintained by PyCA like `cryptography`): the same RFC 8032
ED25519, verified against the same golden vectors, at ~1 MiB per process where `cryptography`'s
Rust bindings cost ~7 MiB in every grid bot (docs/footprint.md).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import lru_cache

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import SigningKey, VerifyKey

Params = Mapping[str, object]

DEFAULT_WINDOW_MS = 5000
MAX_WINDOW_MS = 60000


def format_value(value: object) -> str:
    """A parameter as it appears both on the wire and in the signed text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def param_string(params: Params) -> str:
    """`k=v` pairs sorted by key and joined by `&`; None values are absent from the request."""
    return "&".join(
        f"{key}={format_value(params[key])}" for key in sorted(params) if params[key] is not None
    )


def signing_string(
    instruction: str,
    params: Params | Sequence[Params] | None,
    timestamp_ms: int,
    window_ms: int = DEFAULT_WINDOW_MS,
) -> str:
    """The exact text Backpack expects to be signed; a sequence of params is a batch."""
    if params is None:
        batches: Sequence[Params] = [{}]
    elif isinstance(params, Mapping):
        batches = [params]
    else:
        batches = params
    parts: list[str] = []
    for item in batches:
        parts.append(f"instruction={instruction}")
        text = param_string(item)
        if text:
            parts.append(text)
    parts.append(f"timestamp={timestamp_ms}")
    parts.append(f"window={window_ms}")
    return "&".join(parts)


class InvalidKeyError(ValueError):
    """A key is not base64 of 32 bytes."""


@lru_cache(maxsize=64)
def _private_key(secret_b64: str) -> SigningKey:
    seed = _decode32(secret_b64, "API secret")
    return SigningKey(seed)


@lru_cache(maxsize=256)
def _public_key(public_b64: str) -> VerifyKey:
    return VerifyKey(_decode32(public_b64, "API key"))


def _decode32(value: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidKeyError(f"{what} is not valid base64") from exc
    if len(raw) != 32:
        raise InvalidKeyError(f"{what} must decode to 32 bytes, got {len(raw)}")
    return raw


def public_key_of(secret_b64: str) -> str:
    """The base64 public key (what `X-API-Key` carries) of a base64 seed."""
    raw = bytes(_private_key(secret_b64).verify_key)
    return base64.b64encode(raw).decode("ascii")


def sign(message: str | bytes, secret_b64: str) -> str:
    """Base64 ED25519 signature of the UTF-8 message."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    # .signature: PyNaCl's sign() returns signature + message; Backpack wants the 64 bytes alone.
    return base64.b64encode(_private_key(secret_b64).sign(data).signature).decode("ascii")


def verify(message: str | bytes, signature_b64: str, public_b64: str) -> bool:
    """True when the signature is valid for the message under the public key; never raises."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        _public_key(public_b64).verify(data, signature)
    except (BadSignatureError, CryptoError, InvalidKeyError, binascii.Error, ValueError, TypeError):
        return False
    return True


def sign_request(
    instruction: str,
    params: Params | Sequence[Params] | None,
    secret_b64: str,
    timestamp_ms: int,
    window_ms: int = DEFAULT_WINDOW_MS,
    *,
    api_key: str | None = None,
) -> dict[str, str]:
    """The four headers of a signed request. `api_key` defaults to the secret's public key."""
    message = signing_string(instruction, params, timestamp_ms, window_ms)
    return {
        "X-API-Key": api_key if api_key is not None else public_key_of(secret_b64),
        "X-Signature": sign(message, secret_b64),
        "X-Timestamp": str(timestamp_ms),
        "X-Window": str(window_ms),
    }


def keygen() -> tuple[str, str]:
    """A new key pair: (base64 32-byte seed, base64 public key)."""
    key = SigningKey.generate()
    seed = base64.b64encode(bytes(key)).decode("ascii")
    public = base64.b64encode(bytes(key.verify_key)).decode("ascii")
    return seed, public
