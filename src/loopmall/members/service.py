"""Membership: a customer joins the merchant (through an o2o join code, S0 "follow and
join"), member prices apply from then on, and the join offer's welcome coupon is stored as a
grant until the coupon engine exists.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.catalog.prices import quote_skus
from loopmall.catalog.pricing import Channel
from loopmall.catalog.shelf import ShelfSku
from loopmall.core import clock
from loopmall.core.errors import LoopmallError
from loopmall.core.ids import new_public_id
from loopmall.core.tenancy import Tenant, scoped
from loopmall.members.models import Membership, WelcomeGrant

ACTIVE = "active"


def member_clause(merchant_id: int, customer_id: Any) -> Any:
    """``EXISTS`` an active membership of ``customer_id`` (a value or a column) at the
    merchant: the one definition of "is a member", usable inside another query so that the
    cart learns it without a statement of its own."""
    return exists().where(
        and_(
            Membership.merchant_id == merchant_id,
            Membership.customer_id == customer_id,
            Membership.status == ACTIVE,
        )
    )


async def is_member(session: AsyncSession, tenant: Tenant, customer_id: int | None) -> bool:
    """Whether the customer is an active member of the merchant (False for no customer)."""
    if customer_id is None:
        return False
    return bool(await session.scalar(select(member_clause(tenant.id, customer_id))))


async def member_prices(
    session: AsyncSession, tenant: Tenant, skus: list[ShelfSku]
) -> list[ShelfSku]:
    """The shop window's SKUs at a member's online prices (the WeChat price kept only
    where it is still lower). A SKU whose quote fails keeps its shown price."""
    try:
        quotes = await quote_skus(
            session, tenant, [s.public_id for s in skus], channel=Channel.ONLINE, is_member=True
        )
    except LoopmallError:  # changed while we looked: show the prices we have
        return skus
    priced = []
    for sku in skus:
        quote = quotes.get(sku.public_id)
        price = min(quote.amount, sku.price) if quote else sku.price
        wechat = (
            sku.wechat_price if sku.wechat_price is not None and sku.wechat_price < price else None
        )
        priced.append(replace(sku, price=price, wechat_price=wechat))
    return priced


@dataclass(frozen=True)
class JoinOffer:
    """What the join code a customer came by offers: its id (kept on the membership) and its
    welcome coupon (none when ``coupon_fen`` is 0 or None)."""

    channel_id: int
    coupon_title: str | None
    coupon_fen: int | None
    coupon_threshold_fen: int


@dataclass(frozen=True)
class Joined:
    membership: Membership
    grant: WelcomeGrant | None
    new: bool  # False: the customer was a member already (nothing changed)


async def get_membership(
    session: AsyncSession, tenant: Tenant, customer_id: int
) -> Membership | None:
    found: Membership | None = await session.scalar(
        scoped(Membership, tenant, Membership.customer_id == customer_id)
    )
    return found


async def grant_for(
    session: AsyncSession, tenant: Tenant, membership_id: int
) -> WelcomeGrant | None:
    found: WelcomeGrant | None = await session.scalar(
        scoped(WelcomeGrant, tenant, WelcomeGrant.membership_id == membership_id)
    )
    return found


async def join(
    session: AsyncSession, tenant: Tenant, customer_id: int, *, offer: JoinOffer | None
) -> Joined:
    """Make the customer a member (through ``offer``, a join code's, if given) and store the
    code's welcome coupon as a grant. Joining again changes nothing (``new`` is False); a
    cancelled membership becomes active again. Safe against a concurrent join."""
    current = await get_membership(session, tenant, customer_id)
    if current is not None and current.status == ACTIVE:
        return Joined(current, await grant_for(session, tenant, current.id), new=False)
    now = clock.now()
    if current is not None:
        current.status = ACTIVE
        current.joined_at = now
        membership = current
    else:
        membership = Membership(
            merchant_id=tenant.id,
            public_id=new_public_id("mem"),
            customer_id=customer_id,
            channel_id=offer.channel_id if offer is not None else None,
            status=ACTIVE,
            joined_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(membership)
        except IntegrityError:  # joined in a concurrent request
            winner = await get_membership(session, tenant, customer_id)
            assert winner is not None
            return Joined(winner, await grant_for(session, tenant, winner.id), new=False)
    grant = None
    if offer is not None and offer.coupon_fen:
        grant = await grant_for(session, tenant, membership.id)
        if grant is None:
            grant = WelcomeGrant(
                merchant_id=tenant.id,
                membership_id=membership.id,
                customer_id=customer_id,
                channel_id=offer.channel_id,
                title=offer.coupon_title or "",
                amount_fen=offer.coupon_fen,
                threshold_fen=offer.coupon_threshold_fen,
                status="pending",
                granted_at=now,
            )
            session.add(grant)
    await session.flush()
    return Joined(membership, grant, new=True)


async def member_counts(
    session: AsyncSession, tenant: Tenant, channel_ids: list[int]
) -> dict[int, int]:
    """Members who joined through each of ``channel_ids``."""
    if not channel_ids:
        return {}
    rows = await session.execute(
        select(Membership.channel_id, func.count(Membership.id))
        .where(Membership.merchant_id == tenant.id, Membership.channel_id.in_(channel_ids))
        .group_by(Membership.channel_id)
    )
    return {channel_id: count for channel_id, count in rows.all() if channel_id is not None}
