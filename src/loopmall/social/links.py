"""Signed share tokens: ``<share public id>.<signature>``.

The token names a share row; the signature (HMAC-SHA256 with the app's secret, 128 bits,
base64url) proves we issued it, so nobody can mint a link that credits a sharer who never
shared. The signature covers the share's public id only: a genuine token opened in
another merchant's mall verifies, then finds no share there (404), while a token whose
id or signature was edited fails here (400).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from loopmall.core.errors import LoopmallError

SIG_BYTES = 16
_TOKEN = re.compile(r"^(sh_[0-9a-z]{16})\.([A-Za-z0-9_-]{22})$")


class ShareLinkInvalid(LoopmallError):
    status = 400
    code = "share_link_invalid"
    title = "This share link is not valid"


def _signature(secret: str, public_id: str) -> str:
    mac = hmac.new(secret.encode(), f"share:{public_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:SIG_BYTES]).decode().rstrip("=")


def sign(secret: str, public_id: str) -> str:
    """The token for the share ``public_id``."""
    return f"{public_id}.{_signature(secret, public_id)}"


def unsign(secret: str, token: str) -> str:
    """The share public id a token names. Raises ``ShareLinkInvalid`` for a malformed or
    tampered token."""
    found = _TOKEN.match(token or "")
    if found is None:
        raise ShareLinkInvalid("The share link is malformed")
    public_id, signature = found.group(1), found.group(2)
    if not hmac.compare_digest(signature, _signature(secret, public_id)):
        raise ShareLinkInvalid("The share link's signature does not match")
    return public_id


def landing_path(slug: str, token: str) -> str:
    return f"/m/{slug}/s/{token}"


def share_cookie(slug: str) -> str:
    """The cookie that remembers, per mall, the share a visitor arrived by (the share bar
    template reads it by this name too)."""
    return f"lm_share_{slug.lower()}"
