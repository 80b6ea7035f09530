"""A guide's customers: who they may see, the profile (orders, tags, holds, fittings),
tags, and handing a leaving guide's customers and conversations to another guide."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution import service as attribution
from loopmall.core import clock
from loopmall.core.errors import OutOfRange, ValidationFailed
from loopmall.core.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.text import check_text
from loopmall.core.valueset import one_of
from loopmall.customers.models import Customer
from loopmall.guides import chat, fittings, holds
from loopmall.guides.models import Conversation, CustomerTag, Fitting, GuideHold
from loopmall.guides.rules import MAX_TAG, MAX_TAGS, CustomerNotFound
from loopmall.guides.staffing import require_guide
from loopmall.identity.permissions import Role
from loopmall.orders.models import Order


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a guide sees the customers bound to them or talking with them; a
    store manager those of their stores; owners and managers (``store_ids`` None) all."""

    staff_id: int | None
    role: str | None
    store_ids: frozenset[int] | None

    @property
    def own_only(self) -> bool:
        return self.role == Role.GUIDE.value


async def customer_by_public_id(session: AsyncSession, tenant: Tenant, public_id: str) -> Customer:
    found: Customer | None = await session.scalar(
        scoped(Customer, tenant, Customer.public_id == public_id)
    )
    if found is None:
        raise CustomerNotFound("No such customer")
    return found


async def check_access(
    session: AsyncSession, tenant: Tenant, viewer: Viewer, customer_id: int
) -> None:
    """Raise 404 ``customer_not_found`` unless the viewer may see this customer."""
    if viewer.store_ids is None and not viewer.own_only:
        return
    binding = await attribution.get_binding(session, tenant, customer_id)
    talks = scoped(Conversation, tenant, Conversation.customer_id == customer_id)
    if viewer.own_only:
        if binding is not None and binding.guide_staff_id == viewer.staff_id:
            return
        talks = talks.where(Conversation.guide_staff_id == viewer.staff_id)
    else:
        assert viewer.store_ids is not None
        if binding is not None and binding.store_id in viewer.store_ids:
            return
        talks = talks.where(one_of(Conversation.store_id, viewer.store_ids))
    if await session.scalar(talks.limit(1)) is None:
        raise CustomerNotFound("No such customer")


@dataclass
class CustomerRow:
    customer: Customer
    store_id: int | None
    guide_staff_id: int | None
    source: str
    tags: list[str] = field(default_factory=list)


CUSTOMER_PAGE = 50


async def my_customers(session: AsyncSession, tenant: Tenant, viewer: Viewer) -> list[CustomerRow]:
    """The first page of :func:`customers_page` (pages that show a guide's customers)."""
    rows, _next = await customers_page(session, tenant, viewer)
    return rows


async def customers_page(
    session: AsyncSession,
    tenant: Tenant,
    viewer: Viewer,
    *,
    cursor: str | None = None,
    limit: int = CUSTOMER_PAGE,
) -> tuple[list[CustomerRow], str | None]:
    """A page of the customers bound to the viewer (a guide), to their stores (a store
    manager), or to anyone (owner/manager), newest binding first, with tags; and the next
    page's cursor. A page, never the chain's every binding. Raises ``validation_failed``
    for a bad cursor or limit."""
    if limit < 1 or limit > MAX_LIMIT:
        raise OutOfRange(
            f"limit must be between 1 and {MAX_LIMIT}", field="limit", low=1, high=MAX_LIMIT
        )
    before_id = None
    if cursor:
        before_id = decode_cursor(cursor)
        if not isinstance(before_id, int) or isinstance(before_id, bool) or before_id < 1:
            raise ValidationFailed("The cursor is not valid", field="cursor")
    bindings = await attribution.bindings_page(
        session,
        tenant,
        guide_staff_id=viewer.staff_id if viewer.own_only else None,
        store_ids=None if viewer.own_only else viewer.store_ids,
        before_id=before_id,
        limit=limit + 1,
    )
    next_cursor = encode_cursor(bindings[limit - 1].id) if len(bindings) > limit else None
    bindings = bindings[:limit]
    ids = [b.customer_id for b in bindings]
    if not ids:
        return [], None
    customers = {
        c.id: c for c in (await session.scalars(scoped(Customer, tenant, one_of(Customer.id, ids))))
    }
    tags = await tags_of(session, tenant, ids)
    return [
        CustomerRow(
            customers[b.customer_id],
            b.store_id,
            b.guide_staff_id,
            b.source,
            tags.get(b.customer_id, []),
        )
        for b in bindings
        if b.customer_id in customers
    ], next_cursor


async def tags_of(
    session: AsyncSession, tenant: Tenant, customer_ids: list[int]
) -> dict[int, list[str]]:
    rows = await session.execute(
        select(CustomerTag.customer_id, CustomerTag.tag)
        .where(CustomerTag.merchant_id == tenant.id, CustomerTag.customer_id.in_(customer_ids))
        .order_by(CustomerTag.id)
    )
    found: dict[int, list[str]] = {}
    for customer_id, tag in rows.all():
        found.setdefault(customer_id, []).append(tag)
    return found


def clean_tag(tag: str) -> str:
    tag = check_text((tag or "").strip(), field="tag")
    if not tag or len(tag) > MAX_TAG:
        raise ValidationFailed(f"A tag is 1–{MAX_TAG} characters of text", field="tag")
    return tag


async def add_tag(
    session: AsyncSession, tenant: Tenant, customer_id: int, tag: str, *, staff_id: int | None
) -> list[str]:
    """Tag the customer (again is fine); the tags afterwards. 422 beyond 20 tags."""
    tag = clean_tag(tag)
    current = (await tags_of(session, tenant, [customer_id])).get(customer_id, [])
    if tag in current:
        return current
    if len(current) >= MAX_TAGS:
        raise ValidationFailed(f"A customer has at most {MAX_TAGS} tags", field="tag")
    session.add(
        CustomerTag(
            merchant_id=tenant.id,
            customer_id=customer_id,
            tag=tag,
            staff_id=staff_id,
            created_at=clock.now(),
        )
    )
    await session.flush()
    return [*current, tag]


async def remove_tag(session: AsyncSession, tenant: Tenant, customer_id: int, tag: str) -> None:
    await session.execute(
        delete(CustomerTag).where(
            CustomerTag.merchant_id == tenant.id,
            CustomerTag.customer_id == customer_id,
            CustomerTag.tag == tag,
        )
    )


@dataclass
class Profile:
    customer: Customer
    tags: list[str]
    orders: list[Order]
    holds: list[GuideHold]
    fittings: list[Fitting]
    order_count: int
    spent_fen: int


async def profile(session: AsyncSession, tenant: Tenant, customer: Customer) -> Profile:
    """The customer as a guide sees them: tags, latest orders and totals, holds, fittings."""
    orders = list(
        (
            await session.scalars(
                scoped(Order, tenant, Order.customer_id == customer.id)
                .order_by(Order.id.desc())
                .limit(20)
            )
        ).all()
    )
    count, spent = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Order.paid_fen - Order.refunded_fen), 0))
            .where(Order.merchant_id == tenant.id, Order.customer_id == customer.id)
            .where(Order.paid_fen > 0)
        )
    ).one()
    held = list(
        (
            await session.scalars(
                scoped(GuideHold, tenant, GuideHold.customer_id == customer.id)
                .order_by(GuideHold.id.desc())
                .limit(20)
            )
        ).all()
    )
    booked = list(
        (
            await session.scalars(
                scoped(Fitting, tenant, Fitting.customer_id == customer.id)
                .order_by(Fitting.starts_at.desc())
                .limit(20)
            )
        ).all()
    )
    tags = (await tags_of(session, tenant, [customer.id])).get(customer.id, [])
    return Profile(customer, tags, orders, held, booked, int(count), int(spent))


@dataclass(frozen=True)
class HandOver:
    customers: int
    conversations: int
    holds: int
    fittings: int


async def hand_over(
    session: AsyncSession,
    tenant: Tenant,
    *,
    from_staff_id: int,
    to_staff_id: int,
    actor: str,
) -> HandOver:
    """A guide leaves: their bound customers (attribution's bindings), open conversations,
    active holds and booked fittings (where the new guide's slot is free) move to another
    guide. Raises 422 ``not_a_guide`` when the new guide is
    not an active guide of the merchant or is the leaving one; nothing moves then."""
    to_guide = await require_guide(session, tenant, to_staff_id)
    moved = await attribution.hand_over(
        session,
        tenant,
        from_guide_staff_id=from_staff_id,
        to_guide_staff_id=to_staff_id,
        actor=actor,
    )
    talks = await chat.move_conversations(
        session,
        tenant,
        from_staff_id=from_staff_id,
        to_staff_id=to_staff_id,
        note=f"您的专属导购已更换为 {to_guide.name}",
    )
    ids = {"from_staff_id": from_staff_id, "to_staff_id": to_staff_id}
    held = await holds.hand_over(session, tenant, **ids)
    booked = await fittings.hand_over(session, tenant, **ids)
    return HandOver(moved, len(talks), held, booked)


async def customer_counts(session: AsyncSession, tenant: Tenant) -> dict[int, int]:
    """Bound customers per guide staff id (guides with none are missing)."""
    return await attribution.bound_counts_by_guide(session, tenant)
