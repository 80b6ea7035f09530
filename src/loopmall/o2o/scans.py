"""Scans: what ``/q/{code}`` records, and the per-code funnel (scans → visitors → members
→ orders → GMV) the console shows.

A scan records the channel, the visitor (the customer when logged in to that mall, else the
anonymous device id of the visitor cookie), the time and the place (the channel's store or
placement, and the client's IP); it records an attribution touch (``scan``, or ``join`` for
a join offer) and, for store and guide codes scanned by a known customer, asks attribution
to bind the customer to that store/guide by the merchant's rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution import repository as attribution_totals
from loopmall.attribution import service as attribution
from loopmall.core import clock
from loopmall.core.outbox import publish
from loopmall.core.tenancy import Tenant
from loopmall.o2o import members
from loopmall.o2o.events import QrScanned
from loopmall.o2o.models import QrChannel, QrScan
from loopmall.o2o.rules import BINDING_KINDS, ChannelKind


@dataclass(frozen=True)
class Funnel:
    scans: int = 0
    visitors: int = 0
    members: int = 0
    orders: int = 0
    gmv_fen: int = 0


async def record_scan(
    session: AsyncSession,
    tenant: Tenant,
    channel: QrChannel,
    *,
    visitor_id: str,
    customer_id: int | None,
    ip: str = "",
    user_agent: str = "",
) -> QrScan:
    """Record a scan of an active ``channel`` with its attribution touch (and binding)."""
    now = clock.now()
    kind = ChannelKind(channel.kind)
    touch = await attribution.record_touch(
        session,
        tenant,
        kind=attribution.TouchKind.JOIN if kind is ChannelKind.JOIN else attribution.TouchKind.SCAN,
        customer_id=customer_id,
        visitor_id=visitor_id,
        at=now,
        channel_id=channel.id,
        store_id=channel.store_id,
        guide_staff_id=channel.guide_staff_id,
        placement=(channel.place_name or channel.name)[:100]
        if kind is ChannelKind.PLACEMENT
        else "",
    )
    scan = QrScan(
        merchant_id=tenant.id,
        channel_id=channel.id,
        visitor_id=visitor_id,
        customer_id=customer_id,
        at=now,
        ip=ip[:64],
        user_agent=user_agent[:255],
        touch_id=touch.id,
    )
    session.add(scan)
    if customer_id is not None and kind in BINDING_KINDS:
        await attribution.bind_customer(
            session,
            tenant,
            customer_id,
            store_id=channel.store_id,
            guide_staff_id=channel.guide_staff_id,
            source=f"qr_{kind.value}",
            at=now,
        )
    await session.flush()
    await publish(
        session,
        QrScanned(
            merchant_id=tenant.id,
            scan_id=scan.id,
            channel_id=channel.id,
            channel_public_id=channel.public_id,
            code=channel.code,
            channel_kind=kind.value,
            store_id=channel.store_id,
            guide_staff_id=channel.guide_staff_id,
            customer_id=customer_id,
        ),
    )
    return scan


async def funnels(
    session: AsyncSession, tenant: Tenant, channel_ids: list[int]
) -> dict[int, Funnel]:
    """Scans, distinct visitors, members who joined through it, and the orders and GMV
    attribution credited to each channel."""
    if not channel_ids:
        return {}
    rows = await session.execute(
        select(QrScan.channel_id, func.count(QrScan.id), func.count(distinct(QrScan.visitor_id)))
        .where(QrScan.merchant_id == tenant.id, QrScan.channel_id.in_(channel_ids))
        .group_by(QrScan.channel_id)
    )
    scans = {cid: (n, v) for cid, n, v in rows.all()}
    joined = await members.member_counts(session, tenant, channel_ids)
    totals = await attribution_totals.totals_by_channel(session, tenant, channel_ids)
    out = {}
    for cid in channel_ids:
        n, v = scans.get(cid, (0, 0))
        t = totals.get(cid)
        out[cid] = Funnel(
            scans=n,
            visitors=v,
            members=joined.get(cid, 0),
            orders=t.orders if t else 0,
            gmv_fen=t.gmv_fen if t else 0,
        )
    return out


async def recent_scans(
    session: AsyncSession, tenant: Tenant, channel_id: int, *, limit: int = 50
) -> list[QrScan]:
    """The channel's latest scans, newest first."""
    rows = await session.scalars(
        select(QrScan)
        .where(QrScan.merchant_id == tenant.id, QrScan.channel_id == channel_id)
        .order_by(QrScan.at.desc(), QrScan.id.desc())
        .limit(limit)
    )
    return list(rows.all())
