"""Store sales after the guide rang them up (``/api/v1/store-sales``): the till records the
money, an approver approves (or declines) a discount beyond the merchant's cap.

Each step is taken by the person who has the right to it, logged in as themselves: the
till's needs ``orders.fulfil`` (cashier, store manager, manager, owner; never a guide), the
approval ``orders.discount_approve`` (store manager, manager, owner). A store-bound caller
sees only their stores' sales; another store's is 404 like an unknown one (ADR 0008).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.http import read_uow, write_uow
from loopmall.core.uow import UnitOfWork
from loopmall.guides.access import PROBLEMS, actor_of, path_id
from loopmall.guides.schemas import StoreSaleLineOut, StoreSaleOut, TillReceiptIn
from loopmall.guides.views import public_ids
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.merchants.models import Store
from loopmall.orders import store_sale
from loopmall.orders.models import Order, OrderLine
from loopmall.staff.models import Staff

router = APIRouter(prefix="/store-sales", tags=["guides"])

SALE_PROBLEMS = PROBLEMS | {
    403: {"description": "Not allowed; `discount_self_approval`"},
    409: {
        "description": "`discount_not_approved`, `discount_not_pending`, "
        "`illegal_order_transition`, `insufficient_stock`"
    },
    422: {"description": "`till_amount_mismatch`, `validation_failed`"},
}


async def sales_out(
    session: AsyncSession, rows: Sequence[tuple[Order, Sequence[OrderLine]]]
) -> list[StoreSaleOut]:
    """Store sales with their lines, names as public ids (three lookups in all)."""
    stores = await public_ids(session, Store, (o.store_id for o, _ in rows))
    staff = await public_ids(
        session,
        Staff,
        [o.guide_staff_id for o, _ in rows]
        + [x.discount_by_staff_id for _, lines in rows for x in lines]
        + [x.discount_approved_by_staff_id for _, lines in rows for x in lines],
    )
    return [
        StoreSaleOut(
            id=order.public_id,
            number=order.number,
            status=order.status,
            store=stores.get(order.store_id or 0, ""),
            guide=staff.get(order.guide_staff_id or 0),
            total_fen=order.total_fen,
            paid_fen=order.paid_fen,
            created_at=order.created_at,
            lines=[
                StoreSaleLineOut(
                    sku=x.sku_public_id,
                    title=x.title,
                    quantity=x.quantity,
                    list_fen=x.list_fen,
                    price_fen=(x.line_fen + x.discount_fen) // x.quantity,
                    unit_fen=x.unit_fen,
                    discount_fen=x.discount_fen,
                    discount_approval=x.discount_approval,
                    discount_by=staff.get(x.discount_by_staff_id or 0),
                    discount_approved_by=staff.get(x.discount_approved_by_staff_id or 0),
                    line_fen=x.line_fen,
                )
                for x in lines
            ],
        )
        for order, lines in rows
    ]


async def _one(uow: UnitOfWork, principal: Principal, public_id: str) -> StoreSaleOut:
    found = await store_sale.get_store_sale(
        uow.session, principal.require_tenant(), public_id, store_ids=principal.store_ids
    )
    (out,) = await sales_out(uow.session, [found])
    return out


@router.get("", response_model=list[StoreSaleOut], responses=SALE_PROBLEMS)
async def unpaid_sales(
    limit: int = Query(50, ge=1, le=100),
    principal: Principal = Depends(require(Perm.ORDERS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> list[StoreSaleOut]:
    """Store sales rung up and not yet paid in the caller's stores, newest first."""
    rows = await store_sale.unpaid_store_sales(
        uow.session, principal.require_tenant(), store_ids=principal.store_ids, limit=limit
    )
    return await sales_out(uow.session, rows)


@router.get("/{sale}", response_model=StoreSaleOut, responses=SALE_PROBLEMS)
async def get_sale(
    sale: str = path_id(),
    principal: Principal = Depends(require(Perm.ORDERS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> StoreSaleOut:
    """One store sale: the pipeline's price, the discount, who gave and who approved it."""
    return await _one(uow, principal, sale)


@router.post("/{sale}/receipt", response_model=StoreSaleOut, responses=SALE_PROBLEMS)
async def record_receipt(
    data: TillReceiptIn,
    sale: str = path_id(),
    principal: Principal = Depends(require(Perm.ORDERS_FULFIL)),
    uow: UnitOfWork = Depends(write_uow),
) -> StoreSaleOut:
    """The till received the money (the sale's total): the sale is paid and completed,
    the held units sold, and the guide credited on the amount received."""
    await store_sale.record_till_receipt(
        uow.session,
        principal.require_tenant(),
        sale,
        amount_fen=data.amount_fen,
        store_ids=principal.store_ids,
        actor=actor_of(principal),
    )
    out = await _one(uow, principal, sale)
    await uow.commit()
    return out


@router.post("/{sale}/approve", response_model=StoreSaleOut, responses=SALE_PROBLEMS)
async def approve(
    sale: str = path_id(),
    principal: Principal = Depends(require(Perm.DISCOUNTS_APPROVE)),
    uow: UnitOfWork = Depends(write_uow),
) -> StoreSaleOut:
    """Approve the discount beyond the cap (not the guide who gave it); the till may then
    take the money."""
    await store_sale.approve_discount(
        uow.session,
        principal.require_tenant(),
        sale,
        approver_staff_id=principal.staff_id or 0,
        store_ids=principal.store_ids,
        actor=actor_of(principal),
    )
    out = await _one(uow, principal, sale)
    await uow.commit()
    return out


@router.post("/{sale}/decline", response_model=StoreSaleOut, responses=SALE_PROBLEMS)
async def decline(
    sale: str = path_id(),
    principal: Principal = Depends(require(Perm.DISCOUNTS_APPROVE)),
    uow: UnitOfWork = Depends(write_uow),
) -> StoreSaleOut:
    """Decline the discount: the sale is cancelled and the held units go back."""
    await store_sale.decline_discount(
        uow.session,
        principal.require_tenant(),
        sale,
        store_ids=principal.store_ids,
        actor=actor_of(principal),
    )
    out = await _one(uow, principal, sale)
    await uow.commit()
    return out
