"""``share.created``: published once, when a customer's share of a page is first made (in
its transaction); sharing the same page again announces nothing."""

from __future__ import annotations

from sqlalchemy import select

from loopmall.core.events import Event
from loopmall.core.models import OutboxEvent
from loopmall.core.outbox import envelope_of
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.social import service
from loopmall.social.events import ShareCreated
from tests.social.helpers import person
from tests.storefront.seed import seed_mall


async def published(state: AppState, topic: str) -> list[Event]:
    async with UnitOfWork(state.read_factory) as uow:
        rows = await uow.session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id)
        )
        return [envelope_of(row).event() for row in rows]


async def test_a_first_share_is_published_with_its_chain(state: AppState) -> None:
    mall = await seed_mall(state)
    a = await person(state, mall.tenant, "阿花")
    b = await person(state, mall.tenant, "阿布")

    async def share(who: int, parent: int | None = None, *, commit: bool = True) -> int:
        async with UnitOfWork(state.write_factory) as uow:
            made = await service.create_share(
                uow.session,
                mall.tenant,
                sharer_customer_id=who,
                target_kind="product",
                target_ref=mall.coat,
                parent_share_id=parent,
            )
            if commit:
                await uow.commit()
            return made.id

    await share(b.customer_id, commit=False)  # rolled back: nothing happened
    assert await published(state, "share.created") == []
    first = await share(a.customer_id)
    assert await share(a.customer_id) == first  # the same page again: the same share
    second = await share(b.customer_id, parent=first)

    async with UnitOfWork(state.read_factory) as uow:
        public = await service.public_ids(uow.session, mall.tenant, {first, second})
    assert await published(state, "share.created") == [
        ShareCreated(
            merchant_id=mall.tenant.id,
            share_id=first,
            share_public_id=public[first],
            sharer_customer_id=a.customer_id,
            target_kind="product",
            target_ref=mall.coat,
            parent_share_id=None,
            root_share_id=None,
            depth=0,
        ),
        ShareCreated(
            merchant_id=mall.tenant.id,
            share_id=second,
            share_public_id=public[second],
            sharer_customer_id=b.customer_id,
            target_kind="product",
            target_ref=mall.coat,
            parent_share_id=first,
            root_share_id=first,
            depth=1,
        ),
    ]
