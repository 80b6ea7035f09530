"""A production mode that refuses to start unsafe.

With ``LOOPMALL_ENV=prod`` the app (``create_app``, ``loopmall serve``, ``loopmall worker``)
does not start while any of these stands, and says which — all of them at once:

* the published default secret key, or one shorter than :data:`MIN_SECRET_LENGTH` (it signs
  share links, flash and WeChat tokens, SMS code hashes);
* cookies without ``Secure`` (``LOOPMALL_COOKIE_SECURE=false``);
* the demo's one-tap sandbox login or the sandbox payments switched on;
* the public base URL, or an outside system's base URL (WeChat, WeChat Pay, Alipay, SMS),
  on loopback / an unspecified address / ``localhost``, or not https — what the stand-ins
  and the defaults look like; and no SMS gateway at all (texts would only be logged);
* PostgreSQL without an event broker (``LOOPMALL_EVENT_BROKER_URL=nats://…``): production
  events go through JetStream to ``loopmall worker`` (docs/adr/0009-event-broker.md).

Dev and test settings are never checked: the demo and the tests keep their stand-ins.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from loopmall.config import Settings

DEFAULT_SECRET = Settings.model_fields["secret_key"].default
MIN_SECRET_LENGTH = 32

# (setting, what it reaches) for each outside system's base URL.
OUTSIDE_URLS = (
    ("wechat_api_base_url", "WeChat's API"),
    ("wechat_open_base_url", "WeChat's OAuth"),
    ("wechatpay_base_url", "WeChat Pay"),
    ("alipay_gateway_url", "Alipay"),
    ("sms_base_url", "the SMS gateway"),
)


class UnsafeProductionSettings(RuntimeError):
    """The settings are not fit for production; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"LOOPMALL_ENV=prod refuses to start:\n{lines}")


def _env(field: str) -> str:
    return f"LOOPMALL_{field.upper()}"


def _stand_in_reason(url: str) -> str | None:
    """Why ``url`` is not a real outside address, or None when it may be one."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "is not a URL"
    if not host:
        return "has no host"
    if host == "localhost" or host.endswith(".localhost"):
        return "points at this machine (localhost)"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and (address.is_loopback or address.is_unspecified):
        return f"points at this machine ({host})"
    if parts.scheme != "https":
        return "is not https"
    return None


def problems(settings: Settings) -> list[str]:
    """Everything that makes ``settings`` unsafe for production (empty: safe). Checks the
    settings whatever ``env`` says; :func:`check` applies it only in production."""
    found: list[str] = []
    secret = settings.secret_key
    if secret == DEFAULT_SECRET:
        found.append("LOOPMALL_SECRET_KEY is the published default: set a long random value")
    elif len(secret) < MIN_SECRET_LENGTH:
        found.append(
            f"LOOPMALL_SECRET_KEY is {len(secret)} characters: use at least {MIN_SECRET_LENGTH}"
        )
    if not settings.cookie_secure:
        found.append("LOOPMALL_COOKIE_SECURE is false: cookies must be Secure (HTTPS only)")
    if settings.sandbox_login:
        found.append("LOOPMALL_SANDBOX_LOGIN is on: the demo's one-tap login must be off")
    if settings.sandbox_payments:
        found.append("LOOPMALL_SANDBOX_PAYMENTS is on: sandbox payments pay with no money")
    reason = _stand_in_reason(settings.base_url)
    if reason:
        found.append(f"LOOPMALL_BASE_URL {settings.base_url!r} {reason}: use the public address")
    for field, what in OUTSIDE_URLS:
        url = str(getattr(settings, field))
        if not url:
            found.append(f"{_env(field)} is empty: {what} would not be reached")
            continue
        reason = _stand_in_reason(url)
        if reason:
            found.append(f"{_env(field)} {url!r} {reason}: a stand-in, not {what}")
    if not settings.is_sqlite and not settings.event_broker_url.startswith("nats://"):
        found.append(
            "LOOPMALL_EVENT_BROKER_URL is not a nats:// URL: with PostgreSQL, production "
            "relays events to the broker and `loopmall worker` applies them"
        )
    if not settings.is_sqlite and not settings.redis_url:
        found.append(
            "LOOPMALL_REDIS_URL is empty: with PostgreSQL, app processes share the read "
            "cache's generations through Redis, or a change made in one is not seen by the "
            "others (docs/adr/0010-storefront-read-cache.md)"
        )
    return found


def check(settings: Settings) -> None:
    """Raise :class:`UnsafeProductionSettings` listing every problem when ``env`` is
    ``prod``; other environments are not checked."""
    if settings.env != "prod":
        return
    found = problems(settings)
    if found:
        raise UnsafeProductionSettings(found)
