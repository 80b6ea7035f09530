"""The anonymous visitor id: a device without a customer behind it, kept in the visitor cookie
(``Settings.visitor_cookie``). QR scans record touches under it and claim them at login
(o2o, attribution); an anonymous payer's Idempotency-Keys live under it (payments). One rule
for all of them, so it sits in core.
"""

from __future__ import annotations

import re
import secrets

VISITOR_PATTERN = re.compile(r"^v_[A-Za-z0-9_-]{16,36}$")


def new_visitor_id() -> str:
    """An anonymous device id for the visitor cookie."""
    return "v_" + secrets.token_urlsafe(18)


def valid_visitor_id(value: str | None) -> str | None:
    """The cookie's visitor id if it is one of ours, else None (a new one is made)."""
    return value if value and VISITOR_PATTERN.match(value) else None
