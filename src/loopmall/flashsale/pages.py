"""flashsale: server-rendered pages.

Console: ``/console/flash-sales`` (the sales and the form to set one up) and
``/console/flash-sales/{sale}`` (watch it live: the page polls the staff API every
second). Mall (mobile): ``/m/{slug}/flash/{sale}`` — reserve, the countdown, buy (the
page fetches a one-time token, then posts to the gate), the order to pay, the result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from loopmall.catalog.models import Product, Sku
from loopmall.core import clock
from loopmall.core.errors import LoopmallError, ValidationFailed
from loopmall.core.http import read_uow, write_uow
from loopmall.core.money import parse_yuan
from loopmall.core.numbers import form_int
from loopmall.core.uow import UnitOfWork
from loopmall.customers.mall_page import (
    CustomerPage,
    VisitorPage,
    customer_back_to,
    mall_visitor,
)
from loopmall.flashsale import service
from loopmall.flashsale.repository import get_sale, sale_counts
from loopmall.flashsale.views import SaleShown, sale_for_everyone, sku_public_ids, visitor_view
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter(include_in_schema=False)

SALE = Path(..., max_length=40, pattern=r"^[a-z0-9_]+$")
SLUG = Path(..., max_length=60, pattern=r"^[a-z0-9-]+$")
FORM_FIELDS = (
    "sku",
    "title",
    "price",
    "stock",
    "per_person_limit",
    "pay_within_minutes",
    "reserve_from",
    "reserve_until",
    "starts_at",
    "ends_at",
)


def _local(text: str, field: str) -> datetime:
    """A ``datetime-local`` value typed in Shanghai time, in UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed("Enter a date and time", field=field) from None
    return value.replace(tzinfo=clock.SHANGHAI).astimezone(UTC)


def _whole(text: str, field: str) -> int:
    return form_int(text, field=field)


async def _sku_choices(uow: UnitOfWork, merchant_id: int) -> list[dict[str, str]]:
    rows = await uow.session.execute(
        select(Sku.public_id, Sku.options, Product.title)
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.merchant_id == merchant_id, Sku.status == "active")
        .order_by(Product.title, Sku.id)
        .limit(300)
    )
    return [
        {"id": pid, "label": " ".join([title, *(str(v) for v in (options or {}).values())])}
        for pid, options, title in rows.all()
    ]


async def _list_page(
    request: Request,
    principal: Principal,
    uow: UnitOfWork,
    *,
    form: dict[str, str] | None = None,
    error: LoopmallError | None = None,
) -> Response:
    tenant = principal.require_tenant()
    _ = translator(pick_locale(request))
    sales = await service.list_sales(uow.session, tenant)
    context: dict[str, Any] = {
        "sales": [(s, service.phase(s).value) for s in sales],
        "skus": await _sku_choices(uow, tenant.id),
        "form": form or {},
        "error_field": (error.extra.get("field") if error else None),
        "flash": error.localized(_) if error else "",
        "flash_kind": "error",
        "can_write": principal.can(Perm.FLASHSALE_WRITE),
    }
    return render(
        request,
        "flashsale/console_sales.html",
        context,
        status_code=error.status if error else 200,
    )


@router.get("/console/flash-sales")
async def sales_page(
    request: Request,
    principal: Principal = Depends(require(Perm.FLASHSALE_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    return await _list_page(request, principal, uow)


@router.post("/console/flash-sales")
async def create_sale(
    request: Request,
    principal: Principal = Depends(require(Perm.FLASHSALE_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    raw = await request.form()
    form = {k: str(raw.get(k, ""))[:100].strip() for k in FORM_FIELDS}
    try:
        setup = service.SaleSetup(
            sku_public_id=form["sku"],
            title=form["title"],
            price_fen=parse_yuan(form["price"]) if form["price"] else 0,
            stock=_whole(form["stock"], "stock"),
            per_person_limit=_whole(form["per_person_limit"] or "1", "per_person_limit"),
            pay_within_seconds=_whole(form["pay_within_minutes"] or "15", "pay_within_minutes")
            * 60,
            reserve_from=_local(form["reserve_from"], "reserve_from"),
            reserve_until=_local(form["reserve_until"], "reserve_until"),
            starts_at=_local(form["starts_at"], "starts_at"),
            ends_at=_local(form["ends_at"], "ends_at"),
        )
        sale = await service.create_sale(uow.session, principal.require_tenant(), setup)
    except LoopmallError as exc:
        await uow.rollback()
        return await _list_page(request, principal, uow, form=form, error=exc)
    await uow.commit()
    return RedirectResponse(f"/console/flash-sales/{sale.public_id}", status_code=303)


@router.get("/console/flash-sales/{sale}")
async def sale_page(
    request: Request,
    sale: str = SALE,
    principal: Principal = Depends(require(Perm.FLASHSALE_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    found = await get_sale(uow.session, principal.require_tenant(), sale)
    skus = await sku_public_ids(uow.session, {found.sku_id})
    return render(
        request,
        "flashsale/console_sale.html",
        {
            "sale": found,
            "sku": skus.get(found.sku_id, ""),
            "phase": service.phase(found).value,
            "counts": await sale_counts(uow.session, found.id),
        },
    )


@router.get("/m/{slug}/flash/{sale}")
async def mall_sale_page(
    slug: str = SLUG,
    sale: str = SALE,
    page: VisitorPage = Depends(mall_visitor),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    """The sale in two statements after the mall's: the part every visitor sees alike
    (``sale_for_everyone``, cacheable) and units left with the shopper's own state."""
    tenant, shopper = page.tenant, page.customer
    found = SaleShown.of(await sale_for_everyone(uow.session, tenant, sale))
    customer_id = shopper.customer_id if shopper else None
    view = await visitor_view(uow.session, tenant, found.id, customer_id)
    now = clock.now()
    return page.render(
        "flashsale/mall_sale.html",
        {
            "sale": found,
            "phase": found.phase(now).value,
            "reserving": found.reserving(now),
            "view": view,
            "now": now,
            "login_url": page.login_href(),
        },
        tab="home",
    )


@router.post("/m/{slug}/flash/{sale}/reserve")
async def mall_reserve(
    slug: str = SLUG,
    sale: str = SALE,
    page: CustomerPage = Depends(customer_back_to("/m/{slug}/flash/{sale}")),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    shopper = page.customer
    found = await get_sale(uow.session, shopper.tenant, sale)
    await service.reserve(uow.session, shopper.tenant, found, shopper.customer_id)
    await uow.commit()
    return RedirectResponse(f"/m/{slug}/flash/{sale}", status_code=303)
