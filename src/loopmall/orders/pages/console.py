"""Console pages: orders with filters, one order with its actions and the refund form
(which posts to payments' ``/console/orders/{id}/refunds``), and the pickup counter."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.errors import LoopmallError, NotFound, ValidationFailed
from loopmall.core.http import read_uow, write_uow
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.merchants.store_picker import store_choices
from loopmall.orders import fulfilment, queries
from loopmall.orders.api import shanghai_day_start, store_id_of
from loopmall.orders.pages.labels import error_message, labels
from loopmall.orders.rules import OrderStatus, next_statuses
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 30
ORDER_ID = Path(..., max_length=40)


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed("Dates are YYYY-MM-DD", field="date") from None


@router.get("/console/orders")
async def orders_page(
    request: Request,
    status: str = Query("", max_length=20),
    store: str = Query("", max_length=64),
    date_from: str = Query("", alias="from", max_length=10),
    date_to: str = Query("", alias="to", max_length=10),
    q: str = Query("", max_length=40),
    store_q: str = Query("", max_length=100),
    cursor: str | None = Query(None, max_length=200),
    principal: Principal = Depends(require(Perm.ORDERS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    tenant = principal.require_tenant()
    _ = translator(pick_locale(request))
    chosen = OrderStatus(status) if status in OrderStatus._value2member_map_ else None
    first, last = _day(date_from), _day(date_to)
    filters = queries.OrderFilters(
        status=chosen,
        store_id=await store_id_of(uow.session, tenant, store or None, principal.store_ids),
        q=q.strip() or None,
        created_from=shanghai_day_start(first) if first else None,
        created_to=shanghai_day_start(last + timedelta(days=1)) if last else None,
    )
    orders, next_cursor = await queries.list_orders(
        uow.session,
        tenant,
        filters,
        store_ids=principal.store_ids,
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    stores = await queries.stores_by_id(
        uow.session, tenant, {o.store_id for o in orders if o.store_id}
    )
    kept = {
        k: v
        for k, v in {
            "status": status,
            "store": store,
            "from": date_from,
            "to": date_to,
            "q": q,
        }.items()
        if v
    }
    return render(
        request,
        "orders/console_orders.html",
        {
            "orders": orders,
            "stores": stores,
            "store_choices": await store_choices(
                uow.session, tenant, principal.store_ids, q=store_q, chosen=[store]
            ),
            "store_q": store_q,
            "filters": {"status": status, "store": store, "from": date_from, "to": date_to, "q": q},
            "labels": labels(_),
            "statuses": list(OrderStatus),
            "next_url": "/console/orders?" + urlencode(kept | {"cursor": next_cursor})
            if next_cursor
            else None,
        },
    )


async def _order_page(
    request: Request,
    principal: Principal,
    session: AsyncSession,
    order_id: str,
    *,
    flash: str = "",
    flash_kind: str = "ok",
    status_code: int = 200,
) -> Response:
    tenant = principal.require_tenant()
    _ = translator(pick_locale(request))
    detail = await queries.order_detail(session, tenant, order_id, store_ids=principal.store_ids)
    order = detail.order
    moves = {s.value for s in next_statuses(order, order.status)}
    can_fulfil = principal.can(Perm.ORDERS_FULFIL)
    # The goods' steps wait while a refund request is open (rules.check_fulfilment).
    goods = can_fulfil and order.status != "refund_requested"
    return render(
        request,
        "orders/console_order.html",
        {
            "detail": detail,
            "order": order,
            "labels": labels(_),
            "can": {
                "ship": goods and "shipped" in moves,
                "ready": goods and "ready_for_pickup" in moves,
                "complete": goods and "completed" in moves,
                "cancel": can_fulfil and "cancelled" in moves,
                "decline": can_fulfil and order.status == "refund_requested",
                "refund": principal.can(Perm.PAYMENTS_REFUND)
                and order.payment_method == "online"
                and order.paid_fen > order.refunded_fen
                and order.status not in ("cancelled", "refunded"),
            },
            "refundable_fen": order.paid_fen - order.refunded_fen,
            "flash": flash,
            "flash_kind": flash_kind,
        },
        status_code=status_code,
    )


@router.get("/console/orders/{order_id}")
async def order_page(
    request: Request,
    order_id: str = ORDER_ID,
    ok: str = Query("", max_length=20),
    refund: str = Query("", max_length=20),
    refund_error: str = Query("", max_length=40),
    principal: Principal = Depends(require(Perm.ORDERS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    _ = translator(pick_locale(request))
    # The refund form posts to payments, which sends the clerk back here with the outcome.
    if refund_error:
        refusals = {
            "refund_not_allowed": _("This order cannot be refunded that much."),
            "validation_failed": _("Enter the refund as an amount in yuan, like 12.50."),
        }
        message = refusals.get(refund_error, _("The refund did not go through."))
        return await _order_page(
            request, principal, uow.session, order_id, flash=message, flash_kind="error"
        )
    if refund:
        message = _("Refund requested: the money goes back when the provider confirms it.")
        return await _order_page(request, principal, uow.session, order_id, flash=message)
    done = {
        "shipped": _("Marked as shipped."),
        "ready": _("Marked as ready for pickup."),
        "completed": _("Marked as completed."),
        "cancelled": _("Order cancelled; its items are available again."),
        "declined": _("Refund request declined."),
    }
    return await _order_page(request, principal, uow.session, order_id, flash=done.get(ok, ""))


_ACTIONS = {
    "ship": "shipped",
    "ready": "ready",
    "complete": "completed",
    "cancel": "cancelled",
    "decline-refund": "declined",
}


@router.post("/console/orders/{order_id}/{action}")
async def order_action(
    request: Request,
    order_id: str = ORDER_ID,
    action: str = Path(..., max_length=20),
    carrier: str = Form("", max_length=40),
    tracking_no: str = Form("", max_length=60),
    reason: str = Form("", max_length=200),
    principal: Principal = Depends(require(Perm.ORDERS_FULFIL)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    if action not in _ACTIONS:
        raise NotFound("No such action")
    tenant = principal.require_tenant()
    store_ids = principal.store_ids
    try:
        detail = await queries.order_detail(uow.session, tenant, order_id, store_ids=store_ids)
        await fulfilment.staff_action(
            uow.session,
            tenant,
            detail.order.id,
            action,
            actor=principal.public_id,
            store_ids=store_ids,
            carrier=carrier,
            tracking_no=tracking_no,
            reason=reason,
        )
        await uow.commit()
    except LoopmallError as exc:
        await uow.rollback()
        if isinstance(exc, NotFound):
            raise
        _ = translator(pick_locale(request))
        return await _order_page(
            request,
            principal,
            uow.session,
            order_id,
            flash=error_message(_, exc),
            flash_kind="error",
            status_code=exc.status,
        )
    return RedirectResponse(f"/console/orders/{order_id}?ok={_ACTIONS[action]}", status_code=303)


async def _pickup_page(
    request: Request,
    principal: Principal,
    session: AsyncSession,
    code: str,
    *,
    flash: str = "",
    flash_kind: str = "ok",
    status_code: int = 200,
    done: Any = None,
) -> Response:
    tenant = principal.require_tenant()
    _ = translator(pick_locale(request))
    detail = None
    if code and not flash:
        try:
            order = await fulfilment.find_by_pickup_code(
                session, tenant, code, store_ids=principal.store_ids
            )
            detail = await queries.order_detail(session, tenant, order.public_id)
        except LoopmallError as exc:
            flash, flash_kind, status_code = error_message(_, exc), "error", exc.status
    return render(
        request,
        "orders/console_pickup.html",
        {
            "code": code,
            "detail": detail,
            "done": done,
            "labels": labels(_),
            "can_redeem": principal.can(Perm.ORDERS_FULFIL),
            "flash": flash,
            "flash_kind": flash_kind,
        },
        status_code=status_code,
    )


@router.get("/console/pickup")
async def pickup_page(
    request: Request,
    code: str = Query("", max_length=20),
    done: str = Query("", max_length=40),
    principal: Principal = Depends(require(Perm.ORDERS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    _ = translator(pick_locale(request))
    flash, finished = "", None
    if done:
        try:
            finished = (
                await queries.order_detail(
                    uow.session, principal.require_tenant(), done, store_ids=principal.store_ids
                )
            ).order
            flash = _("Handed over: order %(number)s is completed.", number=finished.number)
        except NotFound:
            finished = None
    return await _pickup_page(
        request, principal, uow.session, code.strip(), flash=flash, done=finished
    )


@router.post("/console/pickup")
async def pickup_redeem(
    request: Request,
    code: str = Form("", max_length=20),
    principal: Principal = Depends(require(Perm.ORDERS_FULFIL)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant = principal.require_tenant()
    try:
        order = await fulfilment.redeem_pickup_code(
            uow.session, tenant, code, actor=principal.public_id, store_ids=principal.store_ids
        )
        public_id = order.public_id
        await uow.commit()
    except LoopmallError as exc:
        await uow.rollback()
        _ = translator(pick_locale(request))
        return await _pickup_page(
            request,
            principal,
            uow.session,
            code.strip(),
            flash=error_message(_, exc),
            flash_kind="error",
            status_code=exc.status,
        )
    return RedirectResponse(f"/console/pickup?done={public_id}", status_code=303)
