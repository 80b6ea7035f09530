"""The console's stock page: stock by location, adjustments, active holds, a SKU's ledger.

Forms post back here (no script needed); success redirects to the page (POST/redirect/
GET), a refusal re-renders it with the reason and the status of the refusal.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core.errors import (
    IllegalTransition,
    LoopmallError,
    NotFound,
    ValidationFailed,
)
from loopmall.core.http import read_uow, write_uow
from loopmall.core.numbers import form_int
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.inventory import locations, records, repository, service
from loopmall.inventory.api_common import visible_hold
from loopmall.inventory.locations import DEFAULT_REF
from loopmall.inventory.rules import (
    BelowHeld,
    HoldStatus,
    InsufficientStock,
    MovementKind,
    StockLimitExceeded,
)
from loopmall.merchants import store_picker
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import render, translator

router = APIRouter()

# SKUs a page: 30 (210 stock-level rows at a chain's size) cost ~23 ms of CPU a view on one
# worker, ~17 ms at 20 — a p95 past 300 ms with 8 users (bench chainscale, issue #11).
PAGE_SIZE = 20
LEDGER_LINES = 50
HOLD_LINES = 50
# Locations shown per SKU before "choose a location" (140 rows a page of 20 SKUs).
LEVELS_PER_SKU = 7
# Query parameters the page keeps when a form sends you back to it.
KEPT = ("location", "q", "sku", "cursor")


def _labels(_: Any) -> dict[str, dict[str, str]]:
    return {
        "kinds": {
            "receive": _("Received"),
            "adjust": _("Adjusted"),
            "count": _("Counted"),
            "hold": _("Held"),
            "release": _("Released"),
            "lapse": _("Lapsed"),
            "consume": _("Sale"),
            "extend": _("Extended"),
        },
        "reasons": {"order": _("Unpaid order"), "guide": _("Guide"), "other": _("Other")},
    }


def _done_message(_: Any, ok: str | None) -> str:
    messages = {
        "adjusted": _("Stock updated."),
        "released": _("Hold released: its units are available again."),
    }
    return messages.get(ok or "", "")


def _error_message(_: Any, exc: LoopmallError) -> str:
    if isinstance(exc, InsufficientStock):
        return _(
            "Not enough free stock: %(available)s available, %(requested)s asked for.",
            available=exc.extra.get("available", 0),
            requested=exc.extra.get("requested", 0),
        )
    if isinstance(exc, BelowHeld):
        return _("The count cannot be below the units held for customers.")
    if isinstance(exc, StockLimitExceeded):
        return _("That is more units than one location can count.")
    if isinstance(exc, NotFound):
        return _("That SKU, store or location was not found.")
    if isinstance(exc, IllegalTransition):
        return _("This hold has already ended.")
    if isinstance(exc, ValidationFailed):
        field = exc.extra.get("field")
        if field == "delta" and exc.extra.get("kind") == "receive":
            return _("Goods received add units: enter a positive number.")
        if field == "delta":
            return _("Enter a whole number other than 0 as the change.")
        if field == "reason":
            return _("Give a reason (up to 200 characters).")
    return _("That did not work. Check the form and try again.")


def _kept(params: dict[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in params.items() if k in KEPT and v}


async def _location_choices(
    session: AsyncSession, principal: Principal, _: Any, *, chosen: str, store_q: str
) -> list[tuple[str, str]]:
    """(ref, label) for the selects: online stock and the warehouses, then the chosen store
    and the first few matching ``store_q`` (a store picker: a chain has 1,800 stores, and
    listing every one cost this page 1.7 s at p95, issue #11)."""
    tenant = principal.require_tenant()
    choices: list[tuple[str, str]] = []
    if principal.store_ids is None:
        choices.append((DEFAULT_REF, _("Online stock")))
    for info in await locations.storeless_locations(session, tenant, principal.store_ids):
        if info.location.kind == "warehouse" and not info.location.is_default:
            choices.append((info.location.public_id, info.display_name))
    for store in await store_picker.store_choices(
        session, tenant, principal.store_ids, q=store_q, chosen=[chosen]
    ):
        choices.append((store.public_id, f"{store.name} ({store.code})"))
    return choices


async def _location_names(
    session: AsyncSession, principal: Principal, _: Any, location_ids: set[int]
) -> dict[int, str]:
    """A display name for each location the page shows (only those)."""
    tenant = principal.require_tenant()
    return {
        info.id: _("Online stock") if info.location.is_default else info.display_name
        for info in await locations.location_infos(session, tenant, location_ids)
    }


async def _page(
    request: Request,
    principal: Principal,
    session: AsyncSession,
    params: dict[str, str | None],
    *,
    flash: str = "",
    flash_kind: str = "ok",
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    tenant = principal.require_tenant()
    _ = translator(pick_locale(request))
    location_ref, search, sku_ref = params.get("location"), params.get("q"), params.get("sku")
    store_q = (params.get("store_q") or "")[:100]
    choices = await _location_choices(
        session, principal, _, chosen=location_ref or "", store_q=store_q
    )

    location_ids = await locations.visible_location_ids(session, tenant, principal.store_ids)
    if location_ref:
        found = await locations.resolve_location(
            session, tenant, location_ref, create=False, store_ids=principal.store_ids
        )
        location_ids = frozenset() if found is None else frozenset({found.id})
    selected_sku = None
    if sku_ref:
        sku_id = await repository.sku_id_for(session, tenant, sku_ref)
        selected_sku = (await repository.list_skus(session, tenant, sku_ids=[sku_id]))[0][0]

    skus, next_cursor = await repository.list_skus(
        session, tenant, search=search, cursor=params.get("cursor"), limit=PAGE_SIZE
    )
    form_skus = await _adjustable_skus(session, principal, skus, selected_sku)
    levels: dict[int, list[repository.LevelRow]] = defaultdict(list)
    truncated = False
    if skus:
        rows, truncated = await repository.first_levels_per_sku(
            session, tenant, [s.id for s in skus], location_ids=location_ids, per_sku=LEVELS_PER_SKU
        )
        for row in rows:
            levels[row.sku_id].append(row)

    holds, _none = await records.list_holds(
        session,
        tenant,
        status=HoldStatus.ACTIVE,
        sku_ids=[selected_sku.id] if selected_sku else None,
        location_ids=location_ids,
        newest_first=True,
        limit=HOLD_LINES,
    )
    ledger: list[records.MovementRow] = []
    actors: dict[str, str] = {}
    if selected_sku:
        ledger, _none = await records.list_movements(
            session,
            tenant,
            sku_ids=[selected_sku.id],
            location_ids=location_ids,
            newest_first=True,
            limit=LEDGER_LINES,
        )
        actors = await records.actor_names(session, tenant, {m.movement.actor for m in ledger})
    shown = {r.location_id for rows_ in levels.values() for r in rows_}
    shown |= {h.location_id for h in holds} | {m.movement.location_id for m in ledger}
    names = await _location_names(session, principal, _, shown)
    ledger_names = {m.location_public_id: names.get(m.movement.location_id, "") for m in ledger}
    kept = _kept(params)
    return render(
        request,
        "inventory/stock.html",
        {
            "skus": skus,
            "form_skus": form_skus,
            "levels": levels,
            "truncated": truncated,
            "location_name": lambda row: names.get(row.location_id, row.location_name),
            "choices": choices,
            "store_q": store_q,
            "filters": {"location": location_ref or "", "q": search or "", "sku": sku_ref or ""},
            "next_url": "/console/stock?" + urlencode(kept | {"cursor": next_cursor})
            if next_cursor
            else None,
            "return_query": urlencode(kept),
            "holds": holds,
            "selected_sku": selected_sku,
            "ledger": ledger,
            "ledger_names": ledger_names,
            "actors": actors,
            "labels": _labels(_),
            "can_adjust": principal.can(Perm.INVENTORY_WRITE),
            "can_release": principal.can(Perm.INVENTORY_HOLD),
            "form": form or {"sku": sku_ref or "", "location": location_ref or ""},
            "flash": flash,
            "flash_kind": flash_kind,
        },
        status_code=status_code,
    )


async def _adjustable_skus(
    session: AsyncSession,
    principal: Principal,
    page: list[repository.SkuRow],
    selected: repository.SkuRow | None,
) -> list[repository.SkuRow]:
    """What the adjustment form offers: the SKU picked from the list, the newest SKUs (a
    product just created is the one to stock, and it is on the list's last page), then
    the page's."""
    if not principal.can(Perm.INVENTORY_WRITE):
        return []
    newest, _next = await repository.list_skus(
        session, principal.require_tenant(), limit=PAGE_SIZE, newest_first=True
    )
    offered = [selected] if selected is not None else []
    by_id: dict[int, repository.SkuRow] = {}
    for sku in [*offered, *newest, *page]:
        by_id.setdefault(sku.id, sku)
    return list(by_id.values())


def _back(return_query: str, ok: str) -> RedirectResponse:
    kept = _kept(dict(parse_qsl(return_query)))
    return RedirectResponse("/console/stock?" + urlencode(kept | {"ok": ok}), status_code=303)


@router.get("/console/stock")
async def stock_page(
    request: Request,
    location: str | None = Query(None, max_length=40),
    q: str | None = Query(None, max_length=100),
    sku: str | None = Query(None, max_length=40),
    cursor: str | None = Query(None, max_length=200),
    ok: str | None = Query(None, max_length=20),
    store_q: str | None = Query(None, max_length=100),
    principal: Principal = Depends(require(Perm.INVENTORY_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> Response:
    _ = translator(pick_locale(request))
    params = {"location": location, "q": q, "sku": sku, "cursor": cursor, "store_q": store_q}
    return await _page(request, principal, uow.session, params, flash=_done_message(_, ok))


@router.post("/console/stock/adjust")
async def adjust_submit(
    request: Request,
    sku: str = Form("", max_length=40),
    location: str = Form("", max_length=40),
    delta: str = Form("", max_length=20),
    reason: str = Form("", max_length=400),
    kind: str = Form("adjust", max_length=20),
    return_query: str = Form("", max_length=600),
    principal: Principal = Depends(require(Perm.INVENTORY_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant = principal.require_tenant()
    try:
        change = form_int(delta, field="delta")
        sku_id = await repository.sku_id_for(uow.session, tenant, sku)
        loc = await locations.resolve_location(
            uow.session, tenant, location, create=True, store_ids=principal.store_ids
        )
        assert loc is not None
        await service.adjust_stock(
            uow.session,
            tenant,
            sku_id=sku_id,
            location_id=loc.id,
            delta=change,
            reason=reason,
            actor=principal.public_id,
            kind=MovementKind.RECEIVE if kind == "receive" else MovementKind.ADJUST,
        )
        await uow.commit()
    except LoopmallError as exc:
        await uow.rollback()
        _ = translator(pick_locale(request))
        params: dict[str, str | None] = dict(parse_qsl(return_query))
        form = {"sku": sku, "location": location, "delta": delta, "reason": reason, "kind": kind}
        return await _page(
            request,
            principal,
            uow.session,
            params,
            flash=_error_message(_, exc),
            flash_kind="error",
            status_code=exc.status,
            form=form,
        )
    return _back(return_query, "adjusted")


@router.post("/console/stock/holds/{hold_id}/release")
async def release_submit(
    request: Request,
    hold_id: str = Path(..., max_length=40),
    return_query: str = Form("", max_length=600),
    principal: Principal = Depends(require(Perm.INVENTORY_HOLD)),
    uow: UnitOfWork = Depends(write_uow),
) -> Response:
    tenant = principal.require_tenant()
    try:
        row = await visible_hold(uow, principal, hold_id)
        await service.release_hold(uow.session, tenant, row.id, actor=principal.public_id)
        await uow.commit()
    except LoopmallError as exc:
        await uow.rollback()
        _ = translator(pick_locale(request))
        params: dict[str, str | None] = dict(parse_qsl(return_query))
        return await _page(
            request,
            principal,
            uow.session,
            params,
            flash=_error_message(_, exc),
            flash_kind="error",
            status_code=exc.status,
        )
    return _back(return_query, "released")
