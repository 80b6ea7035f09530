"""Signed one-time sale tokens: a script cannot hit the gate without fetching the sale page.

A token names the sale, the customer it was issued to, a random nonce and its expiry,
signed with HMAC-SHA256 under the app's secret. The gate verifies it without any lookup
(the lean route does not open a session for it); "once" is the gate's part: the nonce is
spent with a SET NX in the Redis script, or a ``flash_used_tokens`` row on the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from loopmall.flashsale.rules import TOKEN_TTL_SECONDS, TokenInvalid

VERSION = "1"


@dataclass(frozen=True, slots=True)
class SaleToken:
    sale_id: int
    customer_id: int
    nonce: str
    expires_at: datetime


@lru_cache(maxsize=8)
def _key(secret: str) -> bytes:
    return f"flashsale:{secret}".encode()


def _sign(secret: str, body: str) -> str:
    # hmac.digest: OpenSSL's one-shot HMAC, without the HMAC object (the gate verifies a
    # token per attempt).
    mac = hmac.digest(_key(secret), body.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")


def issue_token(
    secret: str,
    *,
    sale_id: int,
    customer_id: int,
    now: datetime,
    ttl_seconds: int = TOKEN_TTL_SECONDS,
) -> str:
    """A fresh token for this customer and sale, valid ``ttl_seconds`` from ``now``."""
    expires = int(now.timestamp()) + ttl_seconds
    body = f"{VERSION}.{sale_id}.{customer_id}.{expires}.{secrets.token_hex(12)}"
    return f"{body}.{_sign(secret, body)}"


def verify_token(secret: str, token: str, *, sale_id: int, now: datetime) -> SaleToken:
    """The token's claims if it is well formed, signed by us, for this sale and not
    expired. Raises 403 ``flash_token_invalid`` otherwise (which, is not said)."""
    if not isinstance(token, str) or len(token) > 200:
        raise TokenInvalid()
    body, _, signature = token.rpartition(".")
    parts = body.split(".")
    if len(parts) != 5 or parts[0] != VERSION:
        raise TokenInvalid()
    if not hmac.compare_digest(_sign(secret, body), signature):
        raise TokenInvalid()
    _, sale, customer, expires, nonce = parts
    try:
        claims = SaleToken(
            int(sale), int(customer), nonce, datetime.fromtimestamp(int(expires), UTC)
        )
    except (ValueError, OverflowError, OSError):
        raise TokenInvalid() from None
    if claims.sale_id != sale_id or claims.expires_at <= now or len(nonce) != 24:
        raise TokenInvalid()
    return claims
