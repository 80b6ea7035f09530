"""The rules of QR channels in one place: kinds, what each kind needs, codes, errors."""

from __future__ import annotations

import secrets
from enum import StrEnum

from loopmall.core.errors import Conflict, NotFound, ValidationFailed


class ChannelKind(StrEnum):
    STORE = "store"  # a store's own code (one per store)
    GUIDE = "guide"  # a shopping guide's code (one per guide)
    PRODUCT = "product"  # a product shown in a store
    PLACEMENT = "placement"  # a poster in a third-party shop or a publication (S2)
    JOIN = "join"  # "follow and join membership" (S0)


K = ChannelKind
# What each kind must name (True), may name (None) or must not name (False):
# (store, guide, product, place name).
NEEDS: dict[ChannelKind, tuple[bool | None, bool | None, bool | None, bool | None]] = {
    K.STORE: (True, False, False, False),
    K.GUIDE: (None, True, False, False),
    K.PRODUCT: (True, None, True, False),
    K.PLACEMENT: (None, False, None, True),
    K.JOIN: (None, None, False, False),
}
# Scans of these kinds bind the customer to the code's store/guide (attribution's rules).
BINDING_KINDS = frozenset({K.STORE, K.GUIDE})

# 12 characters of 32 = 60 random bits: short enough for a sparse QR code, not enumerable.
_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 12
CODE_PATTERN = r"^[a-z0-9]{4,16}$"


def new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))


class ChannelNotFound(NotFound):
    code = "channel_not_found"
    title = "No such QR code"


class ChannelInactive(NotFound):
    code = "channel_inactive"
    title = "This QR code is no longer in use"


class ChannelTargetInvalid(ValidationFailed):
    code = "channel_target_invalid"
    title = "This kind of QR code cannot point at that"


class NotAGuide(ValidationFailed):
    code = "not_a_guide"
    title = "That staff member is not an active shopping guide"


class ChannelExists(Conflict):
    code = "channel_exists"
    title = "This store or guide already has its QR code"


def check_targets(
    kind: ChannelKind,
    *,
    store: bool,
    guide: bool,
    product: bool,
    place: bool,
) -> None:
    """Raise :class:`ChannelTargetInvalid` (naming the field) when ``kind`` lacks something it
    needs or names something it must not."""
    given = {"store": store, "guide": guide, "product": product, "place_name": place}
    for field, need in zip(given, NEEDS[kind], strict=True):
        if need is True and not given[field]:
            raise ChannelTargetInvalid(f"A {kind.value} code needs {field}", field=field)
        if need is False and given[field]:
            raise ChannelTargetInvalid(f"A {kind.value} code takes no {field}", field=field)
