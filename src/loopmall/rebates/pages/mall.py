"""The mall page of a distributor's earnings (``/m/{slug}/me/earnings``): status, asking to
become a distributor, commission earned and given back, the latest lines."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from loopmall.core.http import read_uow, write_uow
from loopmall.core.uow import UnitOfWork
from loopmall.customers.mall_page import CustomerPage, customer_back_to, mall_customer
from loopmall.rebates import distributors, ledger, service
from loopmall.rebates.models import CommissionEntry
from loopmall.rebates.pages.labels import labels
from loopmall.rebates.rules import DistributorPolicy, EarnerKind
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import translator

router = APIRouter(include_in_schema=False)

LIST_SIZE = 50


@router.get("/m/{slug}/me/earnings")
async def earnings_page(
    page: CustomerPage = Depends(mall_customer), uow: UnitOfWork = Depends(read_uow)
) -> Response:
    tenant, shopper = page.tenant, page.customer
    rates = await service.get_rules(uow.session, tenant)
    row = await distributors.get_distributor(uow.session, tenant, shopper.customer_id)
    may = await distributors.who_may_earn(uow.session, tenant, rates, [shopper.customer_id])
    earned = await service.earnings_for_customer(uow.session, tenant, shopper.customer_id)
    f = ledger.EntryFilter(earner_kind=EarnerKind.CUSTOMER, earner_id=shopper.customer_id)
    stmt = ledger.entries_query(tenant, f).order_by(CommissionEntry.id.desc()).limit(LIST_SIZE)
    rows = list((await uow.session.scalars(stmt)).all())
    _ = translator(pick_locale(page.request))
    return page.render(
        "rebates/mall_earnings.html",
        {
            "rates": rates,
            "status": row.status if row else None,
            "may_earn": shopper.customer_id in may,
            "may_apply": rates.distributors is DistributorPolicy.APPROVED
            and (row is None or row.status in ("rejected", "revoked")),
            "earnings": earned,
            "entries": rows,
            "labels": labels(_),
        },
        tab="me",
    )


@router.post("/m/{slug}/me/distributor")
async def apply_page(
    page: CustomerPage = Depends(customer_back_to("/m/{slug}/me/earnings")),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """The "become a distributor" button; back to the earnings page."""
    tenant, shopper = page.tenant, page.customer
    back = f"/m/{tenant.slug}/me/earnings"
    rates = await service.get_rules(uow.session, tenant)
    if rates.distributors is DistributorPolicy.APPROVED:
        await distributors.apply(uow.session, tenant, shopper.customer_id)
        await uow.commit()
    return RedirectResponse(back, status_code=303)
