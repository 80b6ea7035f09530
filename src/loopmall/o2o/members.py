"""Joining the merchant's membership through a join code (S0 "follow and join").

Membership itself is ``loopmall.members``' (orders price for members and must not import
o2o); this module turns a join code into the offer ``members.service.join`` takes, and names
the membership reads o2o's pages and API use.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.tenancy import Tenant
from loopmall.members.service import ACTIVE as ACTIVE
from loopmall.members.service import Joined, JoinOffer
from loopmall.members.service import get_membership as get_membership
from loopmall.members.service import grant_for as grant_for
from loopmall.members.service import is_member as is_member
from loopmall.members.service import join as join_with
from loopmall.members.service import member_counts as member_counts
from loopmall.o2o.models import QrChannel


def offer_of(channel: QrChannel) -> JoinOffer:
    """What a join code offers the customer who joins through it."""
    return JoinOffer(
        channel_id=channel.id,
        coupon_title=channel.coupon_title,
        coupon_fen=channel.coupon_fen,
        coupon_threshold_fen=channel.coupon_threshold_fen,
    )


async def join(
    session: AsyncSession, tenant: Tenant, customer_id: int, *, channel: QrChannel | None
) -> Joined:
    """``members.service.join`` through ``channel``, a join code (or none)."""
    offer = offer_of(channel) if channel is not None else None
    return await join_with(session, tenant, customer_id, offer=offer)
