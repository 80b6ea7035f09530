"""The console's store sales page (``/console/store-sales``): the sales guides rang up and
nobody paid yet. The till records the money received (``orders.fulfil``); a store manager,
manager or owner approves or declines a discount beyond the merchant's cap
(``orders.discount_approve``), each logged in as themselves (ADR 0008). The forms post
here and come back with a notice or the problem's code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from loopmall.core.errors import LoopmallError, NotFound
from loopmall.core.http import read_uow, write_uow
from loopmall.core.money import parse_yuan
from loopmall.core.uow import UnitOfWork
from loopmall.guides.access import actor_of, path_id
from loopmall.guides.api_sales import sales_out
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.orders import store_sale
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter(include_in_schema=False)
PAGE = "/console/store-sales"


def _code() -> Any:
    """A notice or problem code in the query (a fresh ``Query`` per parameter)."""
    return Query(None, max_length=40, pattern=r"^[a-z_]+$")


def _messages(_: Callable[..., str]) -> dict[str, str]:
    return {
        "paid": _("Money received: the sale is completed."),
        "approved": _("Discount approved: the till may take the money."),
        "declined": _("Discount declined: the sale is cancelled and the item is free again."),
        "discount_not_approved": _("The discount waits for a manager's approval."),
        "discount_not_pending": _("This sale has no discount waiting for approval."),
        "discount_self_approval": _("Someone other than the guide approves this discount."),
        "till_amount_mismatch": _("The amount received is not the sale's total."),
        "illegal_order_transition": _("This sale is already paid or cancelled."),
        "insufficient_stock": _("The held item is no longer in stock."),
        "validation_failed": _("Enter the amount received in yuan, e.g. 539.10."),
    }


@router.get(PAGE)
async def store_sales_page(
    request: Request,
    notice: str | None = _code(),
    error: str | None = _code(),
    principal: Principal = Depends(require(Perm.ORDERS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    """Unpaid store sales in the caller's stores, newest first, with what they may do."""
    tenant = principal.require_tenant()
    rows = await store_sale.unpaid_store_sales(
        uow.session, tenant, store_ids=principal.store_ids, limit=100
    )
    _ = translator(pick_locale(request))
    messages = _messages(_)
    flash = messages.get(error or notice or "")
    context = {
        "sales": await sales_out(uow.session, rows),
        "flash": flash,
        "flash_kind": "error" if error else "ok",
        "can_take_money": principal.can(Perm.ORDERS_FULFIL),
        "can_approve": principal.can(Perm.DISCOUNTS_APPROVE),
    }
    return render(request, "guides/store_sales.html", context)


def _back(*, notice: str | None = None, error: str | None = None) -> Response:
    query = f"notice={notice}" if notice else f"error={error}"
    return RedirectResponse(f"{PAGE}?{query}", status_code=303)


@router.post(PAGE + "/{sale}/receipt")
async def receipt_from_console(
    sale: str = path_id(),
    amount: str = Form(..., max_length=20),
    principal: Principal = Depends(require(Perm.ORDERS_FULFIL)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    try:
        amount_fen = parse_yuan(amount)
    except ValueError:
        return _back(error="validation_failed")
    try:
        await store_sale.record_till_receipt(
            uow.session,
            principal.require_tenant(),
            sale,
            amount_fen=amount_fen,
            store_ids=principal.store_ids,
            actor=actor_of(principal),
        )
    except NotFound:
        raise
    except LoopmallError as exc:
        return _back(error=exc.code)
    await uow.commit()
    return _back(notice="paid")


@router.post(PAGE + "/{sale}/{decision}")
async def discount_from_console(
    sale: str = path_id(),
    decision: str = path_id(),
    principal: Principal = Depends(require(Perm.DISCOUNTS_APPROVE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant = principal.require_tenant()
    try:
        if decision == "approve":
            await store_sale.approve_discount(
                uow.session,
                tenant,
                sale,
                approver_staff_id=principal.staff_id or 0,
                store_ids=principal.store_ids,
                actor=actor_of(principal),
            )
        elif decision == "decline":
            await store_sale.decline_discount(
                uow.session, tenant, sale, store_ids=principal.store_ids, actor=actor_of(principal)
            )
        else:
            raise NotFound("No such action")
    except NotFound:
        raise
    except LoopmallError as exc:
        return _back(error=exc.code)
    await uow.commit()
    return _back(notice="approved" if decision == "approve" else "declined")
