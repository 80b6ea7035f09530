"""Public ids: random, prefixed by kind, impossible to enumerate.

Rows keep an integer primary key for joins and lock ordering; the outside world only
ever sees ``public_id`` (e.g. ``st_5v2k9q0x7mj3hd1c``), 80 bits of randomness.
"""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_public_id(prefix: str) -> str:
    raw = secrets.randbits(80)
    chars = []
    for _ in range(16):
        chars.append(_ALPHABET[raw & 31])
        raw >>= 5
    return f"{prefix}_{''.join(chars)}"


def new_token(nbytes: int = 32) -> str:
    """An opaque secret for sessions, API tokens and CSRF."""
    return secrets.token_urlsafe(nbytes)
