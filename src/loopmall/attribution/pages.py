"""attribution: console pages — the merchant's rules (form) and the ledger with filters,
per-role totals and a cursor to older credits (``/console/attribution``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.attribution import repository, views
from loopmall.attribution.api import shanghai_day_start
from loopmall.attribution.rulebook import InvalidRules, get_rules, save_rules
from loopmall.attribution.rules import RULE_NAMES, Role
from loopmall.attribution.service import GUIDE_ROLES
from loopmall.core.http import get_state
from loopmall.core.tenancy import Tenant
from loopmall.core.uow import UnitOfWork
from loopmall.core.valueset import one_of
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.merchants.models import Store
from loopmall.staff.models import Staff
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
PLAIN_ID = r"^[a-z0-9_]*$"


def role_labels(_: Any) -> dict[str, str]:
    return {
        "store": _("Store"),
        "guide": _("Shopping guide"),
        "sharer": _("Sharer"),
        "upstream_sharer": _("Sharer's sharer"),
        "placement": _("Poster placement"),
    }


def rule_labels(_: Any) -> dict[str, str]:
    kinds = {"scan": _("scan"), "share": _("share"), "guide": _("guide chat"), "join": _("join")}
    labels = {
        "payment_code": _("Payment code"),
        "order_store": _("Sold in the store"),
        "binding": _("Binding"),
    }
    for kind, text in kinds.items():
        labels[f"last_touch:{kind}"] = _("Last touch: %(kind)s", kind=text)
        labels[f"first_touch:{kind}"] = _("First touch: %(kind)s", kind=text)
    return labels


def precedence_labels(_: Any) -> dict[str, str]:
    return {
        "last_touch": _("Last touch"),
        "first_touch": _("First touch"),
        "binding": _("Bound store and guide win"),
    }


# Options in the filter's store and guide menus: a chain has thousands of each, so the
# menus offer the first ones by name, plus the chosen one (any id in the URL still filters).
CHOICES = 200


async def _choices(
    session: AsyncSession,
    tenant: Tenant,
    store_ids: frozenset[int] | None,
    store: str = "",
    guide: str = "",
) -> tuple[list[Any], list[Any]]:
    stores = select(Store.id, Store.public_id, Store.name).where(Store.merchant_id == tenant.id)
    if store_ids is not None:
        stores = stores.where(one_of(Store.id, store_ids))
    guides = select(Staff.id, Staff.public_id, Staff.name).where(
        Staff.merchant_id == tenant.id, Staff.role.in_(sorted(GUIDE_ROLES))
    )
    store_rows = list(await session.execute(stores.order_by(Store.name).limit(CHOICES)))
    guide_rows = list(await session.execute(guides.order_by(Staff.name).limit(CHOICES)))
    if store and all(r.public_id != store for r in store_rows):
        store_rows += list(await session.execute(stores.where(Store.public_id == store)))
    if guide and all(r.public_id != guide for r in guide_rows):
        guide_rows += list(await session.execute(guides.where(Staff.public_id == guide)))
    return store_rows, guide_rows


@router.get("/console/attribution")
async def attribution_page(
    request: Request,
    role: str = Query("", max_length=20, pattern=r"^[a-z_]*$"),
    store: str = Query("", max_length=48, pattern=PLAIN_ID),
    guide: str = Query("", max_length=48, pattern=PLAIN_ID),
    rule: str = Query("", max_length=40, pattern=r"^[a-z_:]*$"),
    from_text: str = Query("", alias="from", max_length=10),
    to_text: str = Query("", alias="to", max_length=10),
    cursor: str = Query("", max_length=200, pattern=r"^[A-Za-z0-9_=-]*$"),
    principal: Principal = Depends(require(Perm.ATTRIBUTION_READ)),
) -> Response:
    tenant = principal.require_tenant()
    _ = translator(pick_locale(request))
    # The filter form sends empty fields; a date that does not parse is no filter.
    day_from, day_to = _day(from_text), _day(to_text)
    async with UnitOfWork(get_state(request).read_factory) as uow:
        s = uow.session
        rules = await get_rules(s, tenant)
        store_rows, guide_rows = await _choices(s, tenant, principal.store_ids, store, guide)
        store_by_public = {r.public_id: r.id for r in store_rows}
        guide_by_public = {r.public_id: r.id for r in guide_rows}
        filters = repository.LedgerFilter(
            role=role if role in {r.value for r in Role} else None,
            # An unknown (or someone else's) store or guide matches nothing.
            store_id=store_by_public.get(store, -1) if store else None,
            guide_staff_id=guide_by_public.get(guide, -1) if guide else None,
            rule=rule if rule in RULE_NAMES else None,
            since=shanghai_day_start(day_from) if day_from else None,
            until=shanghai_day_start(day_to + timedelta(days=1)) if day_to else None,
            store_ids=principal.store_ids,
        )
        page = await repository.ledger(s, tenant, filters, cursor=cursor or None, limit=PAGE_SIZE)
        ledger = await views.ledger_out(s, tenant, page)
    query = {
        "role": role,
        "store": store,
        "guide": guide,
        "rule": rule,
        "from": day_from.isoformat() if day_from else "",
        "to": day_to.isoformat() if day_to else "",
    }
    next_url = None
    if ledger.next_cursor:
        kept = {k: v for k, v in query.items() if v}
        next_url = "/console/attribution?" + urlencode(kept | {"cursor": ledger.next_cursor})
    return render(
        request,
        "attribution/console_attribution.html",
        {
            "rules": views.rules_out(rules),
            "ledger": ledger,
            "filters": query,
            "stores": store_rows,
            "guides": guide_rows,
            "roles": role_labels(_),
            "rule_names": rule_labels(_),
            "precedences": precedence_labels(_),
            "next_url": next_url,
            "saved": request.query_params.get("saved") == "1",
            "error": request.query_params.get("error", ""),
            "can_write": principal.can(Perm.ATTRIBUTION_WRITE),
        },
    )


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _number(value: str) -> int | str:
    text = value.strip()
    return int(text) if text.isdigit() and len(text) <= 6 else text


@router.post("/console/attribution/rules")
async def save_rules_form(
    request: Request,
    window_days: str = Form(..., max_length=10),
    precedence: str = Form(..., max_length=20),
    takeover_after_days: str = Form(..., max_length=10),
    bind_on_first_touch: str = Form("", max_length=5),
    bound_store_keeps_online: str = Form("", max_length=5),
    principal: Principal = Depends(require(Perm.ATTRIBUTION_WRITE)),
) -> Response:
    """The rules form: back to the page with ``?saved=1`` or ``?error=<code>``."""
    values = {
        "window_days": _number(window_days),
        "precedence": precedence,
        "takeover_after_days": _number(takeover_after_days),
        "bind_on_first_touch": bind_on_first_touch == "on",
        "bound_store_keeps_online": bound_store_keeps_online == "on",
    }
    async with UnitOfWork(get_state(request).write_factory) as uow:
        try:
            await save_rules(uow.session, principal.require_tenant(), values)
        except InvalidRules as exc:
            field = exc.extra.get("field", "")
            return RedirectResponse(
                f"/console/attribution?error={exc.code}&field={field}", status_code=303
            )
        await uow.commit()
    return RedirectResponse("/console/attribution?saved=1", status_code=303)
