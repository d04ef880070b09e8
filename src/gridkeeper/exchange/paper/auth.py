"""Verifying a signed request the way Backpack does: key, timestamp window, then signature.

Refusals (all JSON `{"code","message"}`): missing headers or an unknown key 401 `UNAUTHORIZED`;
a malformed timestamp or window 400 `INVALID_CLIENT_REQUEST`; a timestamp outside the window
401 `INVALID_CLIENT_REQUEST` "Request has expired"; a signature that does not verify 401
`INVALID_SIGNATURE` (what third-party clients such as ccxt map to an authentication error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gridkeeper.exchange import signing
from gridkeeper.exchange.paper.engine import EngineReject

Params = Mapping[str, object] | Sequence[Mapping[str, object]] | None


def authenticate(
    headers: Mapping[str, str],
    instruction: str,
    params: Params,
    known_keys: Mapping[str, str],
    now_ms: int,
) -> str:
    """Return the account's API key, or raise the rejection Backpack would answer with."""
    api_key = headers.get("x-api-key")
    signature = headers.get("x-signature")
    timestamp = headers.get("x-timestamp")
    if not api_key or not signature or not timestamp:
        raise EngineReject("UNAUTHORIZED", "Missing signature headers", 401)
    try:
        ts = int(timestamp)
        window = int(headers.get("x-window") or signing.DEFAULT_WINDOW_MS)
    except ValueError as exc:
        raise EngineReject("INVALID_CLIENT_REQUEST", "Invalid timestamp or window", 400) from exc
    if not 0 < window <= signing.MAX_WINDOW_MS:
        raise EngineReject("INVALID_CLIENT_REQUEST", "Invalid window", 400)
    if api_key not in known_keys:
        raise EngineReject("UNAUTHORIZED", "Invalid API key", 401)
    if now_ms > ts + window or ts > now_ms + window:
        raise EngineReject("INVALID_CLIENT_REQUEST", "Request has expired", 401)
    message = signing.signing_string(instruction, params, ts, window)
    if not signing.verify(message, signature, api_key):
        raise EngineReject(
            "INVALID_SIGNATURE", "Invalid signature, could not verify signature", 401
        )
    return api_key
