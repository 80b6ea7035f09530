"""What the API and the console show of the ledger and a customer's attribution: rows with
their public ids and names, each page read in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution import repository
from loopmall.attribution.models import Binding, Credit, Touch
from loopmall.attribution.names import Name, Names, names_for
from loopmall.attribution.rules import RuleSet
from loopmall.attribution.schemas import (
    BindingOut,
    CreditOut,
    CustomerAttributionOut,
    LedgerOut,
    MoveOut,
    Ref,
    RoleTotalsOut,
    RulesOut,
    TouchOut,
)
from loopmall.attribution.service import get_binding
from loopmall.core.tenancy import Tenant


def ref(name: Name | None) -> Ref | None:
    return None if name is None else Ref(id=name.public_id, name=name.label)


def rules_out(rules: RuleSet) -> RulesOut:
    return RulesOut(
        window_days=rules.window_days,
        precedence=rules.precedence.value,
        bind_on_first_touch=rules.bind_on_first_touch,
        takeover_after_days=rules.takeover_after_days,
        bound_store_keeps_online=rules.bound_store_keeps_online,
    )


def credit_out(c: Credit, names: Names) -> CreditOut:
    return CreditOut(
        id=c.public_id,
        order=ref(names.orders.get(c.order_id)),
        customer=ref(names.customer(c.customer_id)),
        role=c.role,  # type: ignore[arg-type]
        store=ref(names.store(c.store_id)),
        guide=ref(names.guide(c.guide_staff_id)),
        sharer=ref(names.customer(c.sharer_customer_id)),
        placement=c.placement,
        amount_fen=c.amount_fen,
        rule=c.rule,
        at=c.at,
    )


async def ledger_out(
    session: AsyncSession, tenant: Tenant, page: repository.LedgerPage
) -> LedgerOut:
    credits = page.items
    names = await names_for(
        session,
        tenant,
        orders=(c.order_id for c in credits),
        stores=(c.store_id for c in credits),
        staff=(c.guide_staff_id for c in credits),
        customers=[*(c.customer_id for c in credits), *(c.sharer_customer_id for c in credits)],
    )
    return LedgerOut(
        items=[credit_out(c, names) for c in credits],
        next_cursor=page.next_cursor,
        totals=[
            RoleTotalsOut(role=t.role, credits=t.credits, orders=t.orders, amount_fen=t.amount_fen)
            for t in page.totals
        ],
    )


def _move(entry: dict[str, Any], names: Names) -> MoveOut:
    return MoveOut(
        at=str(entry.get("at", "")),
        from_store=ref(names.store(entry.get("from_store_id"))),
        from_guide=ref(names.guide(entry.get("from_guide_staff_id"))),
        to_store=ref(names.store(entry.get("to_store_id"))),
        to_guide=ref(names.guide(entry.get("to_guide_staff_id"))),
        source=str(entry.get("source", "")),
    )


def binding_out(b: Binding, names: Names) -> BindingOut:
    return BindingOut(
        store=ref(names.store(b.store_id)),
        guide=ref(names.guide(b.guide_staff_id)),
        source=b.source,
        bound_at=b.bound_at,
        last_contact_at=b.last_contact_at,
        history=[_move(h, names) for h in b.history],
    )


def touch_out(t: Touch, names: Names) -> TouchOut:
    return TouchOut(
        kind=t.kind,
        at=t.at,
        store=ref(names.store(t.store_id)),
        guide=ref(names.guide(t.guide_staff_id)),
        sharer=ref(names.customer(t.sharer_customer_id)),
        placement=t.placement,
    )


async def customer_attribution(
    session: AsyncSession, tenant: Tenant, customer_id: int
) -> CustomerAttributionOut:
    binding = await get_binding(session, tenant, customer_id)
    touches: Sequence[Touch] = await repository.customer_touches(session, tenant, customer_id)
    history = binding.history if binding else []
    names = await names_for(
        session,
        tenant,
        stores=[
            *(t.store_id for t in touches),
            binding.store_id if binding else None,
            *(h.get("from_store_id") for h in history),
            *(h.get("to_store_id") for h in history),
        ],
        staff=[
            *(t.guide_staff_id for t in touches),
            binding.guide_staff_id if binding else None,
            *(h.get("from_guide_staff_id") for h in history),
            *(h.get("to_guide_staff_id") for h in history),
        ],
        customers=[customer_id, *(t.sharer_customer_id for t in touches)],
    )
    me = names.customers[customer_id]
    return CustomerAttributionOut(
        customer=Ref(id=me.public_id, name=me.label),
        binding=binding_out(binding, names) if binding else None,
        touches=[touch_out(t, names) for t in touches],
    )
