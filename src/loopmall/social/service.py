"""Shares: a customer's signed link to a product, the mall home or a store; the visits it
brings, each recorded as an attribution touch that carries the sharer and the sharer's own
sharer (the chain A → B → C feeds the ledger: B is C's ``sharer``, A the ``upstream``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution.service import TouchKind, record_touch
from loopmall.catalog import shelf
from loopmall.core import clock
from loopmall.core.errors import NotFound, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.core.outbox import publish
from loopmall.core.state import settings_of
from loopmall.core.tenancy import Tenant, scoped
from loopmall.customers.models import Customer
from loopmall.merchants.stores import get_store
from loopmall.social import links
from loopmall.social.events import ShareCreated
from loopmall.social.models import Share, ShareTarget, ShareVisit

# Kinds a shopper can share today; coupons, articles and events come with their pages.
SHAREABLE = frozenset({ShareTarget.PRODUCT, ShareTarget.HOME, ShareTarget.STORE})
MAX_REF = 64
# One visit per visitor and share per 10 minutes: reloads and double taps are not visits.
REVISIT_SECONDS = 600


class ShareNotFound(NotFound):
    code = "share_not_found"
    title = "No such share in this mall"


class ShareTargetUnsupported(ValidationFailed):
    code = "share_target_unsupported"
    title = "This kind of page cannot be shared yet"


class ShareTargetInvalid(ValidationFailed):
    code = "share_target_invalid"
    title = "The page to share is not valid"


@dataclass(frozen=True)
class ShareTargetView:
    """What a share points at, as a share panel or poster shows it."""

    kind: str
    ref: str
    title: str
    price_fen: int | None
    image_url: str | None
    path: str


def token_for(session: AsyncSession, share: Share) -> str:
    return links.sign(settings_of(session).secret_key, share.public_id)


def share_url(session: AsyncSession, tenant: Tenant, share: Share) -> str:
    """The absolute link a sharer sends: the landing page with the signed token."""
    base = settings_of(session).base_url.rstrip("/")
    return base + links.landing_path(tenant.slug, token_for(session, share))


def target_path(slug: str, kind: str, ref: str) -> str:
    """Where a share's landing sends the visitor."""
    if kind == ShareTarget.PRODUCT:
        return f"/m/{slug}/p/{ref}"
    if kind == ShareTarget.STORE:
        return f"/m/{slug}/?store={ref}"
    return f"/m/{slug}/"


async def describe_target(
    session: AsyncSession, tenant: Tenant, kind: str, ref: str, *, mall_name: str = ""
) -> ShareTargetView:
    """The target as shown on the share panel and poster. Raises ``ShareTargetUnsupported``
    for kinds without pages yet, ``ShareTargetInvalid`` for a malformed reference, and
    ``NotFound`` for a product not on sale online or a store not of this merchant."""
    try:
        target = ShareTarget(kind)
    except ValueError:
        raise ShareTargetUnsupported(f"unknown target kind {kind!r}", field="target_kind") from None
    if target not in SHAREABLE:
        raise ShareTargetUnsupported(field="target_kind")
    if len(ref) > MAX_REF:
        raise ShareTargetInvalid("target is too long", field="target")
    path = target_path(tenant.slug, target, ref)
    if target == ShareTarget.PRODUCT:
        if not ref:
            raise ShareTargetInvalid("a product share names the product", field="target")
        product = await shelf.product_page(session, tenant, ref)
        image = product.images[0] if product.images else None
        return ShareTargetView(target, ref, product.title, product.price_min, image, path)
    if target == ShareTarget.STORE:
        store = await get_store(session, tenant, ref)
        return ShareTargetView(target, ref, store.name, None, None, path)
    if ref:
        raise ShareTargetInvalid("the mall home takes no target", field="target")
    return ShareTargetView(target, "", mall_name or tenant.slug, None, None, path)


async def _customer(session: AsyncSession, tenant: Tenant, customer_id: int) -> Customer:
    found = await session.scalar(scoped(Customer, tenant, Customer.id == customer_id))
    if found is None:
        raise NotFound("No such customer")
    return found


async def _existing(
    session: AsyncSession, tenant: Tenant, sharer_customer_id: int, kind: str, ref: str
) -> Share | None:
    found: Share | None = await session.scalar(
        scoped(
            Share,
            tenant,
            Share.sharer_customer_id == sharer_customer_id,
            Share.target_kind == kind,
            Share.target_ref == ref,
        )
    )
    return found


async def create_share(
    session: AsyncSession,
    tenant: Tenant,
    *,
    sharer_customer_id: int,
    target_kind: str,
    target_ref: str,
    parent_share_id: int | None = None,
) -> Share:
    """The share of ``target`` by this customer, made on first use.

    A customer has one share per target, so a link once spread keeps counting; the first
    share wins its parent. ``parent_share_id`` is the share the sharer arrived by (from the
    share cookie): it is ignored when it is not a share of this merchant or is the
    sharer's own. Raises ``NotFound`` for a customer or target not of this merchant and
    the errors of :func:`describe_target`.
    """
    await _customer(session, tenant, sharer_customer_id)
    view = await describe_target(session, tenant, target_kind, target_ref)
    existing = await _existing(session, tenant, sharer_customer_id, view.kind, view.ref)
    if existing is not None:
        return existing
    parent: Share | None = None
    if parent_share_id is not None:
        parent = await session.scalar(scoped(Share, tenant, Share.id == parent_share_id))
        if parent is not None and parent.sharer_customer_id == sharer_customer_id:
            parent = None
    share = Share(
        merchant_id=tenant.id,
        public_id=new_public_id("sh"),
        sharer_customer_id=sharer_customer_id,
        target_kind=view.kind,
        target_ref=view.ref,
        parent_share_id=parent.id if parent is not None else None,
        root_share_id=(parent.root_share_id or parent.id) if parent is not None else None,
        depth=parent.depth + 1 if parent is not None else 0,
        created_at=clock.now(),
    )
    try:
        async with session.begin_nested():
            session.add(share)
            await session.flush()
    except IntegrityError:
        # The same customer shared the same page twice at once: the other request won.
        raced = await _existing(session, tenant, sharer_customer_id, view.kind, view.ref)
        if raced is None:
            raise
        return raced
    await publish(
        session,
        ShareCreated(
            merchant_id=tenant.id,
            share_id=share.id,
            share_public_id=share.public_id,
            sharer_customer_id=sharer_customer_id,
            target_kind=share.target_kind,
            target_ref=share.target_ref,
            parent_share_id=share.parent_share_id,
            root_share_id=share.root_share_id,
            depth=share.depth,
        ),
    )
    return share


async def get_share(session: AsyncSession, tenant: Tenant, public_id: str) -> Share:
    """The share with this public id in this mall; ``ShareNotFound`` otherwise."""
    share: Share | None = await session.scalar(scoped(Share, tenant, Share.public_id == public_id))
    if share is None:
        raise ShareNotFound()
    return share


async def verify_link(session: AsyncSession, tenant: Tenant, token: str) -> Share:
    """The share a link's token names. Raises ``links.ShareLinkInvalid`` (400) for a
    malformed or tampered token and ``ShareNotFound`` (404) for a genuine token of a share
    that is not in this mall."""
    public_id = links.unsign(settings_of(session).secret_key, token)
    return await get_share(session, tenant, public_id)


async def _seen_lately(
    session: AsyncSession,
    tenant: Tenant,
    share: Share,
    visitor_id: str,
    customer_id: int | None,
    now: datetime,
) -> bool:
    who = []
    if visitor_id:
        who.append(ShareVisit.visitor_id == visitor_id)
    if customer_id is not None:
        who.append(ShareVisit.customer_id == customer_id)
    if not who:
        return False
    found = await session.scalar(
        select(ShareVisit.id)
        .where(
            ShareVisit.merchant_id == tenant.id,
            ShareVisit.share_id == share.id,
            ShareVisit.at > now - timedelta(seconds=REVISIT_SECONDS),
            or_(*who),
        )
        .limit(1)
    )
    return found is not None


async def record_visit(
    session: AsyncSession,
    tenant: Tenant,
    share: Share,
    *,
    visitor_id: str,
    customer_id: int | None,
    in_wechat: bool = False,
) -> ShareVisit | None:
    """Someone opened ``share``'s link: a visit row and an attribution touch ``share`` with
    the sharer and the sharer's own sharer (level 2). The sharer opening their own link,
    and the same visitor opening it again within ``REVISIT_SECONDS`` (a reload, a double
    tap, a bot), are not visits (None, nothing written)."""
    if customer_id is not None and customer_id == share.sharer_customer_id:
        return None
    now = clock.now()
    if await _seen_lately(session, tenant, share, visitor_id, customer_id, now):
        return None
    upstream: int | None = None
    if share.parent_share_id is not None:
        upstream = await session.scalar(
            select(Share.sharer_customer_id).where(
                Share.merchant_id == tenant.id, Share.id == share.parent_share_id
            )
        )
        if upstream in (share.sharer_customer_id, customer_id):
            upstream = None
    touch = await record_touch(
        session,
        tenant,
        kind=TouchKind.SHARE,
        customer_id=customer_id,
        visitor_id=visitor_id or None,
        at=now,
        share_id=share.id,
        sharer_customer_id=share.sharer_customer_id,
        upstream_sharer_customer_id=upstream,
    )
    visit = ShareVisit(
        merchant_id=tenant.id,
        share_id=share.id,
        visitor_id=visitor_id,
        customer_id=customer_id,
        touch_id=touch.id,
        in_wechat=in_wechat,
        at=now,
    )
    session.add(visit)
    await session.flush()
    return visit


async def visit_counts(
    session: AsyncSession, tenant: Tenant, share_ids: list[int]
) -> dict[int, tuple[int, int]]:
    """``share id → (visits, distinct visitors)`` for these shares (one query)."""
    if not share_ids:
        return {}
    rows = await session.execute(
        select(
            ShareVisit.share_id,
            func.count(ShareVisit.id),
            func.count(func.distinct(ShareVisit.visitor_id)),
        )
        .where(ShareVisit.merchant_id == tenant.id, ShareVisit.share_id.in_(share_ids))
        .group_by(ShareVisit.share_id)
    )
    return {share_id: (int(n), int(d)) for share_id, n, d in rows}


async def shares_of_customer(
    session: AsyncSession, tenant: Tenant, customer_id: int, *, limit: int = 50
) -> list[Share]:
    """A customer's own shares, newest first."""
    rows = await session.scalars(
        scoped(Share, tenant, Share.sharer_customer_id == customer_id)
        .order_by(Share.id.desc())
        .limit(limit)
    )
    return list(rows.all())


async def share_from_token(session: AsyncSession, tenant: Tenant, token: str) -> Share | None:
    """The share a remembered token names, or None when it no longer verifies here."""
    try:
        return await verify_link(session, tenant, token)
    except (links.ShareLinkInvalid, ShareNotFound):
        return None


async def public_ids(session: AsyncSession, tenant: Tenant, share_ids: set[int]) -> dict[int, str]:
    """``share id → public id`` for these shares (one query)."""
    if not share_ids:
        return {}
    rows = await session.execute(
        select(Share.id, Share.public_id).where(
            Share.merchant_id == tenant.id, Share.id.in_(share_ids)
        )
    )
    return {share_id: public_id for share_id, public_id in rows}


def unix_now() -> int:
    return int(clock.now().timestamp())
