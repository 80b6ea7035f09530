"""Attribution operations other domains call: touches, bindings, hand-over, crediting.

Every function takes the session and the tenant, flushes and never commits. Names and
meanings are a contract (channels, social, guides and rebates call them):
:func:`record_touch`, :func:`claim_visitor`, :func:`bind_customer`, :func:`get_binding`,
:func:`bound_customers`, :func:`hand_over`, :func:`credit_order`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution.ledger import credit_order as credit_order
from loopmall.attribution.ledger import credit_orders as credit_orders
from loopmall.attribution.models import Binding, Touch
from loopmall.attribution.rulebook import get_rules
from loopmall.attribution.rules import BindingFact, BindingMove, decide_binding
from loopmall.core import clock
from loopmall.core.errors import ValidationFailed
from loopmall.core.tenancy import Tenant, scoped
from loopmall.core.valueset import one_of
from loopmall.identity.permissions import Role
from loopmall.staff.models import Staff, StaffStore

MAX_VISITOR_ID = 64
MAX_PLACEMENT = 120
GUIDE_ROLES = frozenset({Role.GUIDE.value, Role.STORE_MANAGER.value})


class TouchKind(StrEnum):
    SCAN = "scan"
    SHARE = "share"
    GUIDE = "guide"
    JOIN = "join"


class InvalidTouch(ValidationFailed):
    code = "touch_invalid"
    title = "This touch cannot be recorded"


class NotAGuide(ValidationFailed):
    code = "not_a_guide"
    title = "That staff member is not an active guide of this merchant"


def _history_entry(
    binding: Binding, store_id: int | None, guide_staff_id: int | None, at: datetime, source: str
) -> dict[str, Any]:
    return {
        "at": at.isoformat(),
        "from_store_id": binding.store_id,
        "from_guide_staff_id": binding.guide_staff_id,
        "to_store_id": store_id,
        "to_guide_staff_id": guide_staff_id,
        "source": source,
    }


async def record_touch(  # noqa: PLR0913 (a touch's columns, all keyword-only and named at every call)
    session: AsyncSession,
    tenant: Tenant,
    *,
    kind: TouchKind | str,
    customer_id: int | None,
    visitor_id: str | None,
    at: datetime | None = None,
    channel_id: int | None = None,
    store_id: int | None = None,
    guide_staff_id: int | None = None,
    share_id: int | None = None,
    sharer_customer_id: int | None = None,
    upstream_sharer_customer_id: int | None = None,
    placement: str = "",
) -> Touch:
    """Record one touch of a customer (or of an anonymous visitor, claimed on login).

    A touch by the customer's bound store/guide refreshes the binding's last contact (it
    does not bind: that is :func:`bind_customer`). Raises :class:`InvalidTouch` for an
    unknown kind, neither customer nor visitor, or an over-long visitor id / placement.
    """
    try:
        touch_kind = TouchKind(kind)
    except ValueError:
        raise InvalidTouch(f"unknown touch kind {kind!r}", field="kind") from None
    if customer_id is None and not visitor_id:
        raise InvalidTouch("a touch needs a customer or a visitor id")
    if visitor_id is not None and len(visitor_id) > MAX_VISITOR_ID:
        raise InvalidTouch("visitor id too long", field="visitor_id")
    if len(placement) > MAX_PLACEMENT:
        raise InvalidTouch("placement too long", field="placement")
    when = at or clock.now()
    touch = Touch(
        merchant_id=tenant.id,
        kind=touch_kind.value,
        customer_id=customer_id,
        visitor_id=visitor_id or None,
        at=when,
        channel_id=channel_id,
        store_id=store_id,
        guide_staff_id=guide_staff_id,
        share_id=share_id,
        sharer_customer_id=sharer_customer_id,
        upstream_sharer_customer_id=upstream_sharer_customer_id,
        placement=placement,
    )
    session.add(touch)
    if customer_id is not None and (store_id is not None or guide_staff_id is not None):
        binding = await get_binding(session, tenant, customer_id)
        if binding is not None and _is_contact(binding, store_id, guide_staff_id):
            binding.last_contact_at = max(binding.last_contact_at, when)
    await session.flush()
    return touch


def _is_contact(binding: Binding, store_id: int | None, guide_staff_id: int | None) -> bool:
    if binding.guide_staff_id is not None:
        return guide_staff_id == binding.guide_staff_id
    return store_id is not None and store_id == binding.store_id


async def claim_visitor(
    session: AsyncSession, tenant: Tenant, visitor_id: str, customer_id: int
) -> int:
    """Give an anonymous visitor's touches to the customer who just logged in; returns how
    many touches it took. A customer with no binding is then bound by the rules to the
    store/guide of the earliest claimed store or guide touch (source ``claim``)."""
    if not visitor_id or len(visitor_id) > MAX_VISITOR_ID:
        return 0
    result = await session.execute(
        update(Touch)
        .where(
            Touch.merchant_id == tenant.id,
            Touch.visitor_id == visitor_id,
            Touch.customer_id.is_(None),
        )
        .values(customer_id=customer_id)
        .execution_options(synchronize_session=False)
    )
    claimed = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if claimed and await get_binding(session, tenant, customer_id) is None:
        first = await session.scalar(
            scoped(
                Touch,
                tenant,
                Touch.visitor_id == visitor_id,
                Touch.customer_id == customer_id,
                (Touch.store_id.is_not(None)) | (Touch.guide_staff_id.is_not(None)),
            )
            .order_by(Touch.at, Touch.id)
            .limit(1)
        )
        if first is not None:
            await bind_customer(
                session,
                tenant,
                customer_id,
                store_id=first.store_id,
                guide_staff_id=first.guide_staff_id,
                source="claim",
                at=first.at,
            )
    await session.flush()
    return claimed


async def get_binding(session: AsyncSession, tenant: Tenant, customer_id: int) -> Binding | None:
    """The customer's binding to a store/guide, if any."""
    return await session.scalar(scoped(Binding, tenant, Binding.customer_id == customer_id))


def _fact(binding: Binding) -> BindingFact:
    return BindingFact(binding.store_id, binding.guide_staff_id, binding.last_contact_at)


async def bind_customer(
    session: AsyncSession,
    tenant: Tenant,
    customer_id: int,
    *,
    store_id: int | None,
    guide_staff_id: int | None,
    source: str,
    at: datetime | None = None,
    force: bool = False,
) -> Binding | None:
    """Bind the customer to ``store_id``/``guide_staff_id`` as the merchant's rules say.

    Returns the binding when the customer is now bound to them (a new binding, the same one
    with its last contact refreshed, a guide added to a store binding, or a take-over the
    rules allow); None when another binding stands (or binding is off and there is none).
    ``force`` (staff moving a binding) takes over regardless of the rules.
    """
    if store_id is None and guide_staff_id is None:
        raise InvalidTouch("a binding needs a store or a guide")
    when = at or clock.now()
    rules = await get_rules(session, tenant)
    binding = await get_binding(session, tenant, customer_id)
    decision = decide_binding(
        _fact(binding) if binding else None,
        store_id=store_id,
        guide_staff_id=guide_staff_id,
        at=when,
        rules=rules,
        force=force,
    )
    if decision.move is BindingMove.STANDS:
        return None
    if binding is None:
        binding = Binding(
            merchant_id=tenant.id,
            customer_id=customer_id,
            store_id=store_id,
            guide_staff_id=guide_staff_id,
            source=source[:32],
            bound_at=when,
            last_contact_at=when,
            history=[],
        )
        session.add(binding)
        await session.flush()
        return binding
    if decision.move in (BindingMove.EXTEND, BindingMove.TAKE_OVER):
        binding.history = [
            *binding.history,
            _history_entry(binding, decision.store_id, decision.guide_staff_id, when, source),
        ]
        binding.store_id = decision.store_id
        binding.guide_staff_id = decision.guide_staff_id
        binding.source = source[:32]
        binding.bound_at = when
        binding.last_contact_at = when
    else:
        binding.last_contact_at = max(binding.last_contact_at, when)
    await session.flush()
    return binding


async def bound_customers(
    session: AsyncSession,
    tenant: Tenant,
    *,
    guide_staff_id: int | None = None,
    store_id: int | None = None,
) -> list[Binding]:
    """The bindings of a guide and/or a store (all of the merchant's with neither), newest
    first."""
    stmt = scoped(Binding, tenant)
    if guide_staff_id is not None:
        stmt = stmt.where(Binding.guide_staff_id == guide_staff_id)
    if store_id is not None:
        stmt = stmt.where(Binding.store_id == store_id)
    return list(await session.scalars(stmt.order_by(Binding.bound_at.desc(), Binding.id.desc())))


async def bindings_page(
    session: AsyncSession,
    tenant: Tenant,
    *,
    guide_staff_id: int | None = None,
    store_ids: Collection[int] | None = None,
    before_id: int | None = None,
    limit: int,
) -> list[Binding]:
    """Up to ``limit`` bindings of a guide, or of some stores (all of the merchant's with
    neither), newest binding first (by id, below ``before_id``): a page for a list, where
    :func:`bound_customers` would load a chain's every binding."""
    stmt = scoped(Binding, tenant)
    if guide_staff_id is not None:
        stmt = stmt.where(Binding.guide_staff_id == guide_staff_id)
    if store_ids is not None:
        stmt = stmt.where(one_of(Binding.store_id, store_ids))
    if before_id is not None:
        stmt = stmt.where(Binding.id < before_id)
    return list(await session.scalars(stmt.order_by(Binding.id.desc()).limit(limit)))


async def bound_counts_by_guide(session: AsyncSession, tenant: Tenant) -> dict[int, int]:
    """How many customers are bound to each guide (staff id → count; guides with none are
    missing). One grouped count: a chain's 500,000 bindings are never loaded to count them."""
    rows = await session.execute(
        select(Binding.guide_staff_id, func.count())
        .where(Binding.merchant_id == tenant.id, Binding.guide_staff_id.is_not(None))
        .group_by(Binding.guide_staff_id)
    )
    return {int(staff_id): int(n) for staff_id, n in rows.all() if staff_id is not None}


async def bound_counts_of(
    session: AsyncSession, tenant: Tenant, staff_ids: Collection[int]
) -> dict[int, int]:
    """How many customers are bound to each of these guides (a page of them; guides with
    none are missing)."""
    if not staff_ids:
        return {}
    rows = await session.execute(
        select(Binding.guide_staff_id, func.count())
        .where(Binding.merchant_id == tenant.id, one_of(Binding.guide_staff_id, staff_ids))
        .group_by(Binding.guide_staff_id)
    )
    return {int(staff_id): int(n) for staff_id, n in rows.all() if staff_id is not None}


async def active_guide(session: AsyncSession, tenant: Tenant, staff_id: int) -> Staff:
    """The merchant's active guide (or store manager) ``staff_id``; raises :class:`NotAGuide`."""
    staff = await session.scalar(scoped(Staff, tenant, Staff.id == staff_id))
    if staff is None or not staff.active or staff.role not in GUIDE_ROLES:
        raise NotAGuide(field="to_guide")
    return staff


async def guide_stores(session: AsyncSession, tenant: Tenant, staff_id: int) -> set[int]:
    """The stores a staff member works in."""
    return set(
        await session.scalars(
            select(StaffStore.store_id).where(
                StaffStore.merchant_id == tenant.id, StaffStore.staff_id == staff_id
            )
        )
    )


async def hand_over(
    session: AsyncSession,
    tenant: Tenant,
    *,
    from_guide_staff_id: int,
    to_guide_staff_id: int,
    actor: str,
) -> int:
    """Move every customer bound to a leaving guide to another guide; returns how many.

    A binding whose store is not one of the new guide's stores moves to the new guide's
    store when they work in exactly one. Raises :class:`NotAGuide` when the new guide is
    not an active guide of this merchant (or is the leaving guide), nothing moved.
    """
    if from_guide_staff_id == to_guide_staff_id:
        raise NotAGuide("hand the customers to another guide", field="to_guide")
    await active_guide(session, tenant, to_guide_staff_id)
    stores = await guide_stores(session, tenant, to_guide_staff_id)
    now = clock.now()
    moved = 0
    for binding in await bound_customers(session, tenant, guide_staff_id=from_guide_staff_id):
        store_id = binding.store_id
        if store_id not in stores and len(stores) == 1:
            store_id = next(iter(stores))
        binding.history = [
            *binding.history,
            _history_entry(binding, store_id, to_guide_staff_id, now, f"hand_over:{actor}"[:60]),
        ]
        binding.store_id = store_id
        binding.guide_staff_id = to_guide_staff_id
        binding.source = "hand_over"
        binding.last_contact_at = now
        moved += 1
    await session.flush()
    return moved
