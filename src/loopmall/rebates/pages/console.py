"""Console pages: commission settlement (rules, distributors, the ledger with filters and
totals, settlements and their exports) and a staff member's own earnings."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from loopmall.core.clock import local
from loopmall.core.errors import LoopmallError, NotFound, ValidationFailed
from loopmall.core.http import read_uow, write_uow
from loopmall.core.money import parse_yuan
from loopmall.core.pagination import decode_cursor, encode_cursor
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.merchants.store_picker import store_choices
from loopmall.rebates import distributors, earners, filters, ledger, service, settlement, views
from loopmall.rebates.models import CommissionEntry
from loopmall.rebates.pages.labels import error_message, labels
from loopmall.rebates.rules import DECISIONS, DistributorPolicy, EarnerKind, Rates
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter(include_in_schema=False)

# What the commission page shows at once (issue #11: a chain's page rendered 100 lines, 100
# balances, 500 distributors and 200 stores per request): a person reads a screenful; older
# lines are a link away, the distributors have their own page.
LEDGER_SHOWN = 50
DISTRIBUTORS_SHOWN = 20
DISTRIBUTORS_PAGE = 50
PUBLIC_ID = r"^[a-z0-9_]+$"
FILTER_KEYS = ("role", "kind", "store", "settled", "since", "until")


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise ValidationFailed("Dates are YYYY-MM-DD", field="date") from None


def percent_to_bp(text: str, field: str) -> int:
    """A percentage a person typed ("2.5", "2.5%") in basis points; 422 otherwise."""
    try:
        value = Decimal(text.strip().rstrip("%").strip() or "0")
    except InvalidOperation:
        raise ValidationFailed("Rates are percentages like 2.5", field=field) from None
    bp = value * 100
    if not value.is_finite() or bp != bp.to_integral_value() or not 0 <= bp <= 10_000:
        raise ValidationFailed("Rates are percentages from 0 to 100, two decimals", field=field)
    return int(bp)


# The largest amounts not settled yet that the page shows (the settlement itself takes them all).
UNSETTLED_SHOWN = 50


def _before_id(cursor: str) -> int | None:
    """The id an "older lines" link carries; 422 for anything else."""
    if not cursor:
        return None
    after = decode_cursor(cursor)
    if not isinstance(after, int) or isinstance(after, bool) or not 0 < after < 2**63:
        raise ValidationFailed("The cursor is not valid", field="before")
    return after


async def _commission_page(
    request: Request,
    uow: UnitOfWork,
    principal: Principal,
    *,
    shown: dict[str, str],
    before: str = "",
    store_q: str = "",
    form_rates: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    tenant = principal.require_tenant()
    _ = translator(pick_locale(request))
    f = await filters.build_filter(
        uow.session,
        tenant,
        role=shown.get("role") or None,
        kind=shown.get("kind") or None,
        store=shown.get("store") or None,
        settled={"yes": True, "no": False}.get(shown.get("settled", "")),
        since=_day(shown.get("since", "")),
        until=_day(shown.get("until", "")),
        store_ids=principal.store_ids,
    )
    stmt = ledger.entries_query(tenant, f)
    older_than = _before_id(before)
    if older_than is not None:
        stmt = stmt.where(CommissionEntry.id < older_than)
    stmt = stmt.order_by(CommissionEntry.id.desc()).limit(LEDGER_SHOWN + 1)
    rows = list((await uow.session.scalars(stmt)).all())
    older_url = None
    if len(rows) > LEDGER_SHOWN:
        rows = rows[:LEDGER_SHOWN]
        query = {**_filters_kept(shown), "before": encode_cursor(rows[-1].id)}
        older_url = f"/console/commission?{urlencode(query)}#commission-ledger"
    rates = await service.get_rules(uow.session, tenant)
    may_write = principal.can(Perm.COMMISSION_WRITE)
    listed, more_distributors = (
        await distributors.distributors_page(uow.session, tenant, limit=DISTRIBUTORS_SHOWN)
        if may_write
        else ([], None)
    )
    context: dict[str, Any] = {
        "rates": rates,
        "form_rates": form_rates or _rates_form(rates),
        "entries": await views.entries_out(uow.session, tenant, rows),
        "totals": await ledger.totals(uow.session, tenant, f),
        "settlements": await settlement.list_settlements(uow.session, tenant, limit=24),
        "unsettled": await views.unsettled_out(
            uow.session,
            tenant,
            await ledger.unsettled_by_earner(
                uow.session, tenant, store_ids=principal.store_ids, limit=UNSETTLED_SHOWN
            ),
        ),
        "unsettled_shown": UNSETTLED_SHOWN,
        "distributors": listed,
        "more_distributors": more_distributors is not None,
        "store_choices": await store_choices(
            uow.session, tenant, principal.store_ids, q=store_q, chosen=[shown.get("store", "")]
        ),
        "store_q": store_q,
        "older_url": older_url,
        "paged": older_than is not None,
        "shown": shown,
        "export_query": urlencode(_api_filters(shown)),
        "labels": labels(_),
        "through": through_day,
        "may_write": may_write,
        "error": error or error_message(_, request.query_params.get("error", "")),
        "notice": request.query_params.get("notice", ""),
    }
    return render(request, "rebates/console_commission.html", context, status_code=status_code)


def through_day(found: Any) -> str:
    """The last day (Asia/Shanghai) a settlement covers: its end is exclusive."""
    return (local(found.period_end) - timedelta(microseconds=1)).strftime("%Y-%m-%d")


def _rates_form(rates: Rates) -> dict[str, str]:
    def pct(bp: int) -> str:
        return format(Decimal(bp) / 100, "f").rstrip("0").rstrip(".") if bp else "0"

    cap = rates.distributor_cap_fen
    return {
        "store": pct(rates.store_bp),
        "guide": pct(rates.guide_bp),
        "level1": pct(rates.level1_bp),
        "level2": pct(rates.level2_bp),
        "cap": "" if cap is None else f"{cap // 100}.{cap % 100:02d}",
        "distributors": rates.distributors.value,
    }


def _filters_kept(shown: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in shown.items() if v and k in FILTER_KEYS}


def _api_filters(shown: dict[str, str]) -> dict[str, str]:
    out = {k: v for k, v in shown.items() if v and k in FILTER_KEYS}
    if "settled" in out:
        out["settled"] = "true" if out["settled"] == "yes" else "false"
    return out


@router.get("/console/commission")
async def commission_page(
    request: Request,
    role: str = Query("", max_length=20),
    kind: str = Query("", max_length=10),
    store: str = Query("", max_length=40, pattern=r"^[a-z0-9_]*$"),
    settled: str = Query("", pattern="^(|yes|no)$"),
    since: str = Query("", max_length=10),
    until: str = Query("", max_length=10),
    before: str = Query("", max_length=40),
    store_q: str = Query("", max_length=100),
    principal: Principal = Depends(require(Perm.COMMISSION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    shown = {
        "role": role,
        "kind": kind,
        "store": store,
        "settled": settled,
        "since": since,
        "until": until,
    }
    return await _commission_page(
        request, uow, principal, shown=shown, before=before, store_q=store_q
    )


@router.get("/console/commission/distributors")
async def distributors_page(
    request: Request,
    before: str = Query("", max_length=80),
    principal: Principal = Depends(require(Perm.COMMISSION_WRITE)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    """Applications and distributors, newest application first, a page at a time."""
    tenant = principal.require_tenant()
    listed, after = await distributors.distributors_page(
        uow.session, tenant, before=_distributor_key(before), limit=DISTRIBUTORS_PAGE
    )
    next_url = None
    if after is not None:
        key = encode_cursor([after[0].isoformat(), after[1]])
        next_url = f"/console/commission/distributors?{urlencode({'before': key})}"
    _ = translator(pick_locale(request))
    return render(
        request,
        "rebates/console_distributors.html",
        {
            "distributors": listed,
            "next_url": next_url,
            "paged": bool(before),
            "labels": labels(_),
        },
    )


def _distributor_key(cursor: str) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    key = decode_cursor(cursor)
    try:
        at, ident = key
        found = (datetime.fromisoformat(at), int(ident))
    except (TypeError, ValueError):
        raise ValidationFailed("The cursor is not valid", field="before") from None
    if found[0].tzinfo is None or not isinstance(ident, int) or isinstance(ident, bool):
        raise ValidationFailed("The cursor is not valid", field="before")
    if not 0 < ident < 2**63:
        raise ValidationFailed("The cursor is not valid", field="before")
    return found


@router.post("/console/commission/rules")
async def save_rules(
    request: Request,
    store: str = Form("0", max_length=10),
    guide: str = Form("0", max_length=10),
    level1: str = Form("0", max_length=10),
    level2: str = Form("0", max_length=10),
    cap: str = Form("", max_length=16),
    policy: str = Form("approved", alias="distributors", pattern="^(everyone|approved)$"),
    principal: Principal = Depends(require(Perm.COMMISSION_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    """The rules form: back to the page, or the page again with the error (422) and what
    was typed; nothing is saved then."""
    typed = {
        "store": store,
        "guide": guide,
        "level1": level1,
        "level2": level2,
        "cap": cap,
        "distributors": policy,
    }
    _ = translator(pick_locale(request))
    try:
        rates = Rates(
            store_bp=percent_to_bp(store, "store"),
            guide_bp=percent_to_bp(guide, "guide"),
            level1_bp=percent_to_bp(level1, "level1"),
            level2_bp=percent_to_bp(level2, "level2"),
            distributor_cap_fen=_cap(cap),
            distributors=DistributorPolicy(policy),
        )
        await service.update_rules(
            uow.session, principal.require_tenant(), rates, actor=principal.public_id
        )
    except LoopmallError as exc:
        await uow.rollback()
        return await _commission_page(
            request,
            uow,
            principal,
            shown={},
            form_rates=typed,
            error=error_message(_, exc.code),
            status_code=exc.status,
        )
    await uow.commit()
    return RedirectResponse("/console/commission?notice=rules_saved", status_code=303)


def _cap(text: str) -> int | None:
    if not text.strip():
        return None
    try:
        return parse_yuan(text)
    except ValueError:
        raise ValidationFailed("The cap is an amount in yuan", field="cap") from None


@router.post("/console/commission/settlements")
async def settle_from_console(
    through: str = Form(..., max_length=10),
    principal: Principal = Depends(require(Perm.COMMISSION_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant = principal.require_tenant()
    try:
        day = _day(through)
        if day is None:
            raise ValidationFailed("Pick the last day of the period", field="through")
        end = filters.shanghai_day_start(day, field="through") + timedelta(days=1)
        made = await settlement.settle(uow.session, tenant, end, actor=principal.public_id)
    except LoopmallError as exc:
        return RedirectResponse(f"/console/commission?error={exc.code}", status_code=303)
    await uow.commit()
    return RedirectResponse(f"/console/commission/settlements/{made.public_id}", status_code=303)


# A screenful of a settlement's lines (as the ledger on the commission page); the rest by cursor.
SETTLEMENT_PAGE = 50


@router.get("/console/commission/settlements/{settlement_id}")
async def settlement_page(
    request: Request,
    settlement_id: str = Path(..., max_length=40, pattern=PUBLIC_ID),
    earner: str = Query("", max_length=40, pattern=r"^[a-z0-9_]*$"),
    cursor: str = Query("", max_length=200),
    principal: Principal = Depends(require(Perm.COMMISSION_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    """A settlement: its totals (kept on the settlement when it was made) and a page of its
    lines by cursor, or one earner's lines (by public id: st_, stf_ or cus_)."""
    tenant = principal.require_tenant()
    found = await settlement.find_settlement(uow.session, tenant, settlement_id)
    who = None
    if earner:
        kind = earners.kind_of_public_id(earner)
        if kind is None:
            raise NotFound("No such earner", field="earner")
        who = (kind, await earners.resolve(uow.session, tenant, kind, earner))
    lines, next_cursor = await settlement.lines_page(
        uow.session,
        tenant,
        found,
        store_ids=principal.store_ids,
        earner=who,
        cursor=cursor or None,
        limit=SETTLEMENT_PAGE,
    )
    _ = translator(pick_locale(request))
    next_url = None
    if next_cursor:
        query = {"cursor": next_cursor, **({"earner": earner} if earner else {})}
        next_url = f"/console/commission/settlements/{found.public_id}?{urlencode(query)}"
    return render(
        request,
        "rebates/console_settlement.html",
        {
            "settlement": await views.settlement_out(uow.session, tenant, found, lines),
            "through": through_day(found),
            "earner": earner,
            "paged": bool(cursor),
            "next_url": next_url,
            "labels": labels(_),
        },
    )


@router.post("/console/commission/distributors/{customer}/{action}")
async def decide_from_console(
    customer: str = Path(..., max_length=40, pattern=PUBLIC_ID),
    action: str = Path(..., pattern="^(approve|reject|revoke)$"),
    principal: Principal = Depends(require(Perm.COMMISSION_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    target = DECISIONS[action]
    try:
        await distributors.decide(
            uow.session, principal.require_tenant(), customer, target, actor=principal.public_id
        )
    except LoopmallError as exc:
        if exc.status == 404:
            raise
        return RedirectResponse(f"/console/commission?error={exc.code}", status_code=303)
    await uow.commit()
    return RedirectResponse("/console/commission?notice=distributor_saved", status_code=303)


@router.get("/console/earnings")
async def my_earnings_page(
    request: Request,
    before: str = Query("", max_length=40),
    principal: Principal = Depends(require(Perm.GUIDE_WORK)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    """A staff member's own commission: totals and their latest ledger lines (a screenful,
    then older ones by a link)."""
    tenant = principal.require_tenant()
    staff_id = principal.staff_id or 0
    earned = await service.earnings_for_staff(uow.session, tenant, staff_id)
    f = ledger.EntryFilter(earner_kind=EarnerKind.STAFF, earner_id=staff_id)
    stmt = ledger.entries_query(tenant, f)
    older_than = _before_id(before)
    if older_than is not None:
        stmt = stmt.where(CommissionEntry.id < older_than)
    stmt = stmt.order_by(CommissionEntry.id.desc()).limit(LEDGER_SHOWN + 1)
    rows = list((await uow.session.scalars(stmt)).all())
    older_url = None
    if len(rows) > LEDGER_SHOWN:
        rows = rows[:LEDGER_SHOWN]
        older_url = f"/console/earnings?{urlencode({'before': encode_cursor(rows[-1].id)})}"
    _ = translator(pick_locale(request))
    return render(
        request,
        "rebates/console_earnings.html",
        {
            "earnings": earned,
            "entries": await views.entries_out(uow.session, tenant, rows),
            "older_url": older_url,
            "labels": labels(_),
        },
    )
