"""What people sign in with, and the rules for it: a mainland mobile number (a staff
member's login), a password, a person's name. Staff, merchant owners at onboarding and
platform operators all follow these, so they live with the sign-in machinery that every
one of those domains may import."""

from __future__ import annotations

import re

from loopmall.core.errors import ValidationFailed
from loopmall.core.text import check_text

MOBILE = re.compile(r"^1[3-9]\d{9}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 200
NAME_MAX = 50
_PHONE_NOISE = re.compile(r"[\s\-()]")


class InvalidPhone(ValidationFailed):
    code = "invalid_phone"
    title = "Not an 11-digit mobile number"


class WeakPassword(ValidationFailed):
    code = "weak_password"
    title = f"The password must be {PASSWORD_MIN}–{PASSWORD_MAX} characters"


def normalize_phone(text: str) -> str:
    """Strip spaces, dashes and a +86 prefix; what remains must be an 11-digit mobile."""
    phone = _PHONE_NOISE.sub("", text)
    for prefix in ("+86", "0086"):
        if phone.startswith(prefix):
            phone = phone[len(prefix) :]
    if len(phone) == 13 and phone.startswith("86"):
        phone = phone[2:]
    return phone


def clean_phone(phone: str, *, field: str = "phone") -> str:
    """``138 0013 8000`` / ``+86 13800138000`` → ``13800138000``. Raises ``InvalidPhone``."""
    value = normalize_phone(phone.strip()) if isinstance(phone, str) else ""
    if not MOBILE.match(value):
        raise InvalidPhone(field=field)
    return value


def check_password(password: str, *, field: str = "password") -> None:
    """Raises ``WeakPassword`` unless the password has 8–200 characters."""
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise WeakPassword(field=field)


def check_person_name(name: str, *, field: str = "name") -> str:
    value = check_text(name.strip(), field=field) if isinstance(name, str) else ""
    if not value or len(value) > NAME_MAX:
        raise ValidationFailed(f"The name must be 1–{NAME_MAX} printable characters", field=field)
    return value
