"""A sale's unsold units, spread over bucket rows (the database gate's counter).

One hot row is the ceiling of a counter on PostgreSQL: every buyer waits for the row lock
of the one before. With ``flashsale_buckets`` rows a buyer takes a unit from a random
bucket with a conditional ``UPDATE … WHERE remaining >= n`` and moves on to another when it
is empty; the sale is sold out when every bucket is. Multi-unit takes (the Redis path's
batches) walk the buckets in id order, so two of them cannot deadlock.
"""

from __future__ import annotations

import random

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.tenancy import Tenant
from loopmall.flashsale.models import FlashBucket

NO_SYNC = {"synchronize_session": False}


async def take_one_bucket(session: AsyncSession, sale_id: int, buckets: int, quantity: int) -> bool:
    """Take ``quantity`` units from one bucket, starting at a random one; whether it got
    them. Falls back to :func:`take_units` when no single bucket holds enough."""
    start = random.randrange(max(buckets, 1))
    for _ in range(buckets + 1):
        pick = (
            select(FlashBucket.id)
            .where(FlashBucket.sale_id == sale_id, FlashBucket.remaining >= quantity)
            .order_by((FlashBucket.idx + (buckets - start)) % buckets)
            .limit(1)
            .scalar_subquery()
        )
        result = await session.execute(
            update(FlashBucket)
            .where(FlashBucket.id == pick, FlashBucket.remaining >= quantity)
            .values(remaining=FlashBucket.remaining - quantity)
            .returning(FlashBucket.id),
            execution_options=NO_SYNC,
        )
        if result.first() is not None:
            return True
        # Lost the race for that bucket (or none holds enough): is there any left at all?
        left = await session.scalar(
            select(FlashBucket.id)
            .where(FlashBucket.sale_id == sale_id, FlashBucket.remaining >= quantity)
            .limit(1)
        )
        if left is None:
            break
    if quantity > 1:
        got = await take_units(session, sale_id, quantity)
        if got == quantity:
            return True
        if got:
            await _give(session, sale_id, got)
    return False


async def take_units(session: AsyncSession, sale_id: int, wanted: int) -> int:
    """Take up to ``wanted`` units over the buckets in id order; how many it got."""
    got = 0
    rows = await session.execute(
        select(FlashBucket.id, FlashBucket.remaining)
        .where(FlashBucket.sale_id == sale_id, FlashBucket.remaining > 0)
        .order_by(FlashBucket.id)
    )
    for bucket_id, seen in rows.all():
        while got < wanted and seen > 0:
            k = min(seen, wanted - got)
            result = await session.execute(
                update(FlashBucket)
                .where(FlashBucket.id == bucket_id, FlashBucket.remaining >= k)
                .values(remaining=FlashBucket.remaining - k)
                .returning(FlashBucket.remaining),
                execution_options=NO_SYNC,
            )
            row = result.first()
            if row is not None:
                got += k
                seen = row[0]
            else:
                seen = int(
                    await session.scalar(
                        select(FlashBucket.remaining).where(FlashBucket.id == bucket_id)
                    )
                    or 0
                )
        if got >= wanted:
            break
    return got


async def _give(session: AsyncSession, sale_id: int, units: int) -> None:
    bucket_id = await session.scalar(
        select(FlashBucket.id)
        .where(FlashBucket.sale_id == sale_id)
        .order_by(FlashBucket.remaining, FlashBucket.id)
        .limit(1)
    )
    await session.execute(
        update(FlashBucket)
        .where(FlashBucket.id == bucket_id)
        .values(remaining=FlashBucket.remaining + units),
        execution_options=NO_SYNC,
    )


async def give_units(session: AsyncSession, tenant: Tenant, sale_id: int, units: int) -> None:
    """Put ``units`` back on sale (into the emptiest bucket, so buyers find them soon)."""
    if units > 0:
        await _give(session, sale_id, units)
