"""Merchants: onboarding a new tenant, and the platform operator's view of all of them.

A small merchant (a fruit stall, a pancake seller) must be selling within minutes (S0), so
onboarding asks for five things — a name, a merchant code (slug), the owner's name, phone
and password — and creates the merchant, its micro-mall settings and its owner in one
transaction. No store is needed: stores are for merchants that have them.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant
from loopmall.core.text import check_text
from loopmall.core.transitions import Transitions
from loopmall.identity.credentials import check_password, check_person_name, clean_phone
from loopmall.identity.passwords import hash_password
from loopmall.merchants.blocks import default_blocks
from loopmall.merchants.events import MerchantOnboarded, MerchantReactivated, MerchantSuspended
from loopmall.merchants.models import MallSettings, Merchant
from loopmall.merchants.staffing import Owner, merchant_staff
from loopmall.merchants.stores import search_text

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,39}$")
SLUG_MIN, SLUG_MAX = 3, 40
# Merchant codes that would collide with the site's own paths or confuse people.
RESERVED_SLUGS = frozenset(
    {
        "admin",
        "api",
        "app",
        "assets",
        "console",
        "docs",
        "healthz",
        "help",
        "login",
        "logout",
        "loopmall",
        "mall",
        "me",
        "openapi",
        "platform",
        "readyz",
        "root",
        "shop",
        "signup",
        "static",
        "support",
        "system",
        "uploads",
        "www",
    }
)
MERCHANT_NAME_MAX = 100
PUBLIC_ID = re.compile(r"^[\x21-\x7e]{1,40}$")


def _refuse_status(current: str, target: str) -> IllegalTransition:
    return IllegalTransition(
        f"A merchant that is {current} cannot become {target}", current_status=current
    )


# Allowed moves of a merchant's status (CONVENTIONS rule 7).
STATUSES: Transitions[str] = Transitions(
    "merchant",
    {"active": {"suspended"}, "suspended": {"active"}},
    error=_refuse_status,
)


class InvalidSlug(ValidationFailed):
    code = "invalid_slug"
    title = "The merchant code must be 3–40 lowercase letters, digits or single hyphens"


class ReservedSlug(ValidationFailed):
    code = "reserved_slug"
    title = "This merchant code is reserved"


class SlugTaken(Conflict):
    code = "slug_taken"
    title = "This merchant code is already taken"


def clean_slug(slug: str) -> str:
    """Lower-case and check a merchant code. Raises ``InvalidSlug`` or ``ReservedSlug``."""
    value = slug.strip().lower()
    if not SLUG_MIN <= len(value) <= SLUG_MAX or not SLUG_PATTERN.match(value):
        raise InvalidSlug(field="slug")
    if value in RESERVED_SLUGS:
        raise ReservedSlug(field="slug")
    return value


def clean_merchant_name(name: str, *, field: str = "name") -> str:
    value = check_text(name.strip(), field=field) if isinstance(name, str) else ""
    if not value or len(value) > MERCHANT_NAME_MAX:
        raise ValidationFailed(
            f"The name must be 1–{MERCHANT_NAME_MAX} printable characters", field=field
        )
    return value


async def onboard_merchant(
    session: AsyncSession,
    *,
    name: str,
    slug: str,
    owner_name: str,
    owner_phone: str,
    owner_password: str,
) -> tuple[Merchant, Owner]:
    """Create a merchant, its mall settings and its owner, and announce ``merchant.onboarded``.

    The mall starts with the merchant's name, the default colours and a few home page
    blocks. Flushes, never commits. Raises ``InvalidSlug``/``ReservedSlug`` (422),
    ``ValidationFailed`` (422, with ``field``) for a bad name, phone (an 11-digit mainland
    mobile) or password (at least 8 characters), and ``SlugTaken`` (409).
    """
    slug = clean_slug(slug)
    name = clean_merchant_name(name)
    owner_name = check_person_name(owner_name, field="owner_name")
    phone = clean_phone(owner_phone, field="owner_phone")
    check_password(owner_password, field="owner_password")
    password_hash = await hash_password(owner_password)

    now = clock.now()
    merchant = Merchant(
        public_id=new_public_id("mch"), slug=slug, name=name, status="active", created_at=now
    )
    try:
        # A savepoint, so a taken slug leaves the caller's transaction usable.
        async with session.begin_nested():
            session.add(merchant)
            await session.flush()
    except IntegrityError:
        raise SlugTaken(field="slug") from None
    session.add(
        MallSettings(
            merchant_id=merchant.id,
            mall_name=name,
            primary_color="#e4393c",
            accent_color="#222222",
            blocks=default_blocks(name),
            cod_enabled=False,
            updated_at=now,
        )
    )
    # The owner is a staff row, which the staff domain makes (merchants.staffing).
    owner = await merchant_staff().add_owner(
        session,
        Tenant(merchant.id, merchant.slug),
        name=owner_name,
        phone=phone,
        password_hash=password_hash,
    )
    await publish(
        session,
        MerchantOnboarded(
            merchant_id=merchant.id,
            merchant=merchant.public_id,
            slug=slug,
            name=name,
            owner=owner.public_id,
        ),
    )
    return merchant, owner


async def get_merchant(session: AsyncSession, public_id: str) -> Merchant:
    """The merchant with this public id. Raises ``NotFound``."""
    merchant = None
    if PUBLIC_ID.match(public_id):
        merchant = await session.scalar(select(Merchant).where(Merchant.public_id == public_id))
    if merchant is None:
        raise NotFound("No such merchant")
    return merchant


async def merchant_of(session: AsyncSession, tenant: Tenant) -> Merchant:
    """The merchant row behind a tenant. Raises ``NotFound``."""
    merchant = await session.get(Merchant, tenant.id)
    if merchant is None:
        raise NotFound("No such merchant")
    return merchant


def merchants_query(*, q: str | None = None, status: str | None = None) -> Select[Any]:
    """All merchants (platform operators only), optionally by name/code text and status."""
    stmt = select(Merchant)
    q = search_text(q)
    if q:
        stmt = stmt.where(
            or_(
                Merchant.slug.contains(q.lower(), autoescape=True),
                func.lower(Merchant.name).contains(q.lower(), autoescape=True),
            )
        )
    if status:
        stmt = stmt.where(Merchant.status == status)
    return stmt


async def set_merchant_status(session: AsyncSession, public_id: str, status: str) -> Merchant:
    """Suspend (``suspended``) or reactivate (``active``) a merchant.

    A suspended merchant's staff can no longer log in, and their sessions and tokens stop
    working at once (they are checked against the merchant's status on every request).
    Publishes ``merchant.suspended`` / ``merchant.reactivated``. Raises ``NotFound`` and
    ``IllegalTransition`` (409) for a move the table does not allow (e.g. suspending twice).
    """
    merchant = await get_merchant(session, public_id)
    current = merchant.status
    STATUSES.check(current, status)
    # Conditional on the status we read, so two operators racing cannot both move it.
    result = await session.execute(
        update(Merchant)
        .where(Merchant.id == merchant.id, Merchant.status == current)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise IllegalTransition("The merchant's status changed meanwhile; look again")
    await session.refresh(merchant)
    kind = MerchantSuspended if status == "suspended" else MerchantReactivated
    await publish(
        session, kind(merchant_id=merchant.id, merchant=merchant.public_id, slug=merchant.slug)
    )
    return merchant
