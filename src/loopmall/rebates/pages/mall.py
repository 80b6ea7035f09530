"""The mall page of a distributor's earnings (``/m/{slug}/me/earnings``): status, asking to
become a distributor, commission earned and given back, the latest lines."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from loopmall.core.http import read_uow, write_uow
from loopmall.core.uow import UnitOfWork
from loopmall.customers.deps import Shopper, login_url, optional_shopper
from loopmall.rebates import distributors, ledger, service
from loopmall.rebates.models import CommissionEntry
from loopmall.rebates.pages.labels import labels
from loopmall.rebates.rules import DistributorPolicy, EarnerKind
from loopmall.storefront.shell import open_mall
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter(include_in_schema=False)

LIST_SIZE = 50


@router.get("/m/{slug}/me/earnings")
async def earnings_page(
    request: Request,
    slug: str,
    shopper: Shopper | None = Depends(optional_shopper),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    tenant, mall = await open_mall(uow.session, slug)
    if shopper is None:
        return RedirectResponse(login_url(slug, request), status_code=303)
    rates = await service.get_rules(uow.session, tenant)
    row = await distributors.get_distributor(uow.session, tenant, shopper.customer_id)
    may = await distributors.who_may_earn(uow.session, tenant, rates, [shopper.customer_id])
    earned = await service.earnings_for_customer(uow.session, tenant, shopper.customer_id)
    f = ledger.EntryFilter(earner_kind=EarnerKind.CUSTOMER, earner_id=shopper.customer_id)
    stmt = ledger.entries_query(tenant, f).order_by(CommissionEntry.id.desc()).limit(LIST_SIZE)
    rows = list((await uow.session.scalars(stmt)).all())
    _ = translator(pick_locale(request))
    return render(
        request,
        "rebates/mall_earnings.html",
        {
            "mall": mall,
            "tab": "me",
            "rates": rates,
            "status": row.status if row else None,
            "may_earn": shopper.customer_id in may,
            "may_apply": rates.distributors is DistributorPolicy.APPROVED
            and (row is None or row.status in ("rejected", "revoked")),
            "earnings": earned,
            "entries": rows,
            "labels": labels(_),
        },
    )


@router.post("/m/{slug}/me/distributor")
async def apply_page(
    slug: str,
    shopper: Shopper | None = Depends(optional_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """The "become a distributor" button; back to the earnings page."""
    tenant, _mall = await open_mall(uow.session, slug)
    back = f"/m/{tenant.slug}/me/earnings"
    if shopper is None:
        return RedirectResponse(login_url(slug, None, back), status_code=303)
    rates = await service.get_rules(uow.session, tenant)
    if rates.distributors is DistributorPolicy.APPROVED:
        await distributors.apply(uow.session, tenant, shopper.customer_id)
        await uow.commit()
    return RedirectResponse(back, status_code=303)
