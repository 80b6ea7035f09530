"""Console pages of payments: the payments list, the reconciliation reports, the printable
payment codes (收款码) and the refund form's POST (the form is on the order detail page).
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from loopmall.core.errors import LoopmallError, NotFound, ValidationFailed
from loopmall.core.http import get_state
from loopmall.core.money import parse_yuan
from loopmall.core.pagination import decode_cursor, encode_cursor
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.orders import service as orders
from loopmall.payments import codes, reconciliation, refunds
from loopmall.web import qr
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter(include_in_schema=False)

OrderId = Path(..., max_length=40, pattern=r"^[a-z0-9_]+$")
CodeId = Path(..., max_length=40, pattern=r"^[a-z0-9_]+$")
# A page of payments, newest first, then older ones by cursor (the primary key backwards).
# 100 rows rendered made the page 0.5-1.2 s at p95 with 8 users (issue #11, chain scale).
LIST_SIZE = 50


def state_labels(_: Any) -> dict[str, str]:
    return {
        "created": _("Starting"),
        "pending": _("Waiting for payment"),
        "failed": _("Failed to start"),
        "closed": _("Closed"),
        "succeeded": _("Paid"),
        "partially_refunded": _("Partly refunded"),
        "refunded": _("Refunded"),
        "requested": _("Requested"),
        "processing": _("Processing"),
    }


def provider_labels(_: Any) -> dict[str, str]:
    return {"wechatpay": _("WeChat Pay"), "alipay": _("Alipay"), "sandbox": _("Sandbox")}


def _before(cursor: str | None) -> int | None:
    if not cursor:
        return None
    before = decode_cursor(cursor)
    if not isinstance(before, int) or isinstance(before, bool) or not 0 < before < 2**63:
        raise ValidationFailed("The cursor is not valid", field="cursor")
    return before


@router.get("/console/payments")
async def payments_page(
    request: Request,
    cursor: str | None = Query(None, max_length=200),
    principal: Principal = Depends(require(Perm.ORDERS_READ)),
) -> Response:
    tenant = principal.require_tenant()
    state = get_state(request)
    before = _before(cursor)
    async with UnitOfWork(state.read_factory) as uow:
        rows = await refunds.recent_payments(
            uow.session, tenant, store_ids=principal.store_ids, limit=LIST_SIZE + 1, before=before
        )
        more = len(rows) > LIST_SIZE
        rows = rows[:LIST_SIZE]
        order_rows = await orders.get_payables(uow.session, tenant, {p.order_id for p in rows})
        refund_rows = await refunds.refunds_of_payments(uow.session, tenant, [p.id for p in rows])
        store_names, staff_names = await codes.names(
            uow.session,
            tenant,
            {o.store_id for o in order_rows.values() if o.store_id},
            {o.guide_staff_id for o in order_rows.values() if o.guide_staff_id},
        )
    _ = translator(pick_locale(request))
    by_payment: dict[int, list[Any]] = {}
    for refund in refund_rows:
        by_payment.setdefault(refund.payment_id, []).append(refund)
    return render(
        request,
        "payments/console_payments.html",
        {
            "payments": rows,
            "orders": order_rows,
            "refunds": by_payment,
            "states": state_labels(_),
            "providers": provider_labels(_),
            "store_names": store_names,
            "staff_names": staff_names,
            "next_url": "/console/payments?" + urlencode({"cursor": encode_cursor(rows[-1].id)})
            if more
            else None,
        },
    )


# The order page's refund form posts here. app.py mounts payments' pages before orders' so
# this route wins over orders' POST /console/orders/{order_id}/{action}.
@router.post("/console/orders/{order}/refunds")
async def refund_from_console(
    request: Request,
    order: str = OrderId,
    amount: str = Form(..., max_length=20),
    reason: str = Form("", max_length=80),
    principal: Principal = Depends(require(Perm.PAYMENTS_REFUND)),
) -> Response:
    """The refund form of the order detail page: back there with ``?refund=requested`` or
    ``?refund_error=<code>`` (``refund_not_allowed``, ``validation_failed``)."""
    tenant = principal.require_tenant()
    state = get_state(request)
    back = f"/console/orders/{order}"
    try:
        amount_fen = parse_yuan(amount)
    except ValueError:
        return RedirectResponse(f"{back}?refund_error=validation_failed", status_code=303)
    async with UnitOfWork(state.write_factory) as uow:
        try:
            await refunds.refund_order(
                uow.session,
                tenant,
                order,
                amount_fen=amount_fen,
                reason=reason.strip() or "staff",
                actor=f"staff:{principal.public_id}",
                store_ids=principal.store_ids,
            )
            await uow.commit()
        except NotFound:
            raise
        except LoopmallError as exc:
            return RedirectResponse(f"{back}?refund_error={exc.code}", status_code=303)
    return RedirectResponse(f"{back}?refund=requested", status_code=303)


@router.get("/console/reconciliation")
async def reconciliation_page(
    request: Request, principal: Principal = Depends(require(Perm.PAYMENTS_RECONCILE))
) -> Response:
    tenant = principal.require_tenant()
    async with UnitOfWork(get_state(request).read_factory) as uow:
        reports = await reconciliation.list_reports(uow.session, tenant)
    _ = translator(pick_locale(request))
    kinds = {
        "paid_not_recorded": _("Paid at the provider, not in our records (now applied)"),
        "recorded_not_paid": _("Paid in our records, not at the provider"),
        "amount_differs": _("Amounts differ"),
        "order_not_paid": _("Payment succeeded but the order is not paid"),
        "query_failed": _("The provider could not be asked"),
    }
    return render(
        request,
        "payments/console_reconciliation.html",
        {
            "reports": reports,
            "kinds": kinds,
            "yesterday": reconciliation.yesterday().isoformat(),
            "ran": request.query_params.get("ran", ""),
        },
    )


@router.post("/console/reconciliation")
async def run_reconciliation(
    request: Request,
    day: str = Form(..., max_length=10, pattern=r"^\d{4}-\d{2}-\d{2}$"),
    principal: Principal = Depends(require(Perm.PAYMENTS_RECONCILE)),
) -> Response:
    try:
        when = date.fromisoformat(day)
    except ValueError:
        return RedirectResponse("/console/reconciliation", status_code=303)
    await reconciliation.reconcile_day(get_state(request), principal.require_tenant(), when)
    return RedirectResponse(f"/console/reconciliation?ran={when.isoformat()}", status_code=303)


QR_PAGE = 24


@router.get("/console/qrcodes")
async def qrcodes_page(
    request: Request,
    principal: Principal = Depends(require(Perm.ORDERS_READ)),
    store: str = Query("", max_length=40, pattern=r"^[a-z0-9_]*$"),
    q: PlainText = Query("", max_length=50),
    cursor: str | None = Query(None, max_length=200),
) -> Response:
    """A page of printable codes (stores, then guides), searchable by name and filtered by
    store; codes are made the first time their store or guide is shown."""
    tenant = principal.require_tenant()
    state = get_state(request)
    async with UnitOfWork(state.read_factory) as uow:
        store_id = await codes.store_filter(uow.session, tenant, store, principal.store_ids)
    query = codes.CodeQuery(store_ids=principal.store_ids, store=store_id, q=q.strip())
    page = await codes.shown_page(
        state.read_factory, state.write_factory, tenant, query, cursor=cursor, limit=QR_PAGE
    )
    urls = [codes.code_url(state.settings.base_url, tenant.slug, v.code.code) for v in page.views]
    svgs = await asyncio.to_thread(lambda: [qr.qr_svg(u, scale=5).decode() for u in urls])
    cards = [
        {"view": view, "url": url, "svg": svg, "public_id": view.code.public_id}
        for view, url, svg in zip(page.views, urls, svgs, strict=True)
    ]
    return render(
        request,
        "payments/console_qrcodes.html",
        {
            "cards": cards,
            "filters": {"q": q.strip(), "store": store},
            "next_cursor": page.next_cursor,
            "paged": bool(cursor),
        },
    )


@router.get("/console/qrcodes/{code}.{kind}")
async def qrcode_file(
    request: Request,
    code: str = CodeId,
    kind: str = Path(..., pattern=r"^(png|svg)$"),
    principal: Principal = Depends(require(Perm.ORDERS_READ)),
) -> Response:
    """One code's QR image to download and print (PNG or SVG)."""
    tenant = principal.require_tenant()
    state = get_state(request)
    async with UnitOfWork(state.read_factory) as uow:
        view = await codes.get_code_by_id(uow.session, tenant, code, store_ids=principal.store_ids)
    url = codes.code_url(state.settings.base_url, tenant.slug, view.code.code)
    if kind == "png":
        png = await asyncio.to_thread(qr.qr_png, url, scale=10)
        return Response(png, media_type="image/png")
    svg = await asyncio.to_thread(qr.qr_svg, url, scale=10)
    return Response(svg, media_type="image/svg+xml")
