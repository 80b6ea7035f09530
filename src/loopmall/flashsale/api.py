"""flashsale: JSON routes (mounted under /api/v1).

Staff: ``/flash-sales`` (create, list, one sale with its live figures). Shoppers:
``/mall/{slug}/flash/{sale}`` (the sale as they see it, reserve, fetch a one-time sale
token, their ticket) and ``…/buy`` — the gate. In production the lean ASGI route
(``flashsale.lean``) answers ``…/buy`` before FastAPI sees it; this route is the same gate
on the database for an app without it.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from loopmall.core import clock
from loopmall.core.errors import NotFound
from loopmall.core.http import client_ip, get_state, read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.uow import UnitOfWork
from loopmall.customers.deps import Shopper, optional_shopper, require_shopper
from loopmall.flashsale import gate_db, pending, service, tokens
from loopmall.flashsale.models import FlashSale
from loopmall.flashsale.repository import get_sale, sale_counts
from loopmall.flashsale.rules import NotReserved, Phase, SaleNotLive
from loopmall.flashsale.sale_cache import holds_reservation, sale_cache
from loopmall.flashsale.schemas import (
    BuyIn,
    BuyOut,
    MallSaleOut,
    SaleIn,
    SaleLiveOut,
    SaleOut,
    TicketOut,
    TokenOut,
    counts_out,
    sale_out,
)
from loopmall.flashsale.views import (
    SaleShown,
    ShopperView,
    TicketView,
    sale_for_everyone,
    shopper_view,
    sku_public_ids,
    visitor_view,
)
from loopmall.identity.deps import require
from loopmall.identity.guards import SIGNED
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal

router = APIRouter()
staff = APIRouter(prefix="/flash-sales", tags=["flash sales"])
mall = APIRouter(prefix="/mall/{slug}/flash/{sale}", tags=["mall flash sales"])

SALE = Path(..., max_length=40, pattern=r"^[a-z0-9_]+$")
PROBLEMS: dict[int | str, dict[str, Any]] = {
    403: {"description": "`flash_not_reserved`, `flash_token_invalid`, `flash_token_used`"},
    404: {"description": "No such sale or SKU"},
    409: {
        "description": "`flash_not_live`, `flash_not_reserving`, `flash_sold_out`, "
        "`flash_already_bought`, `insufficient_stock`"
    },
    422: {"description": "`flash_sale_invalid`"},
    429: {"description": "`flash_rate_limited`"},
}


@staff.post("", response_model=SaleOut, status_code=201, responses=PROBLEMS)
async def create_sale(
    body: SaleIn,
    request: Request,
    principal: Principal = Depends(require(Perm.FLASHSALE_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Set up a sale: its stock leaves the online stock for a location of the sale's own."""
    tenant = principal.require_tenant()

    async def work() -> SaleOut:
        sale = await service.create_sale(
            uow.session,
            tenant,
            service.SaleSetup(
                sku_public_id=body.sku,
                title=body.title,
                price_fen=body.price_fen,
                stock=body.stock,
                reserve_from=body.reserve_from.astimezone(UTC),
                reserve_until=body.reserve_until.astimezone(UTC),
                starts_at=body.starts_at.astimezone(UTC),
                ends_at=body.ends_at.astimezone(UTC),
                per_person_limit=body.per_person_limit,
                pay_within_seconds=body.pay_within_seconds,
            ),
        )
        return sale_out(sale, body.sku)

    return await run_idempotent(request, uow, principal.scope, work)


@staff.get("", response_model=list[SaleOut])
async def list_sales(
    principal: Principal = Depends(require(Perm.FLASHSALE_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> list[SaleOut]:
    sales = await service.list_sales(uow.session, principal.require_tenant())
    skus = await sku_public_ids(uow.session, {s.sku_id for s in sales})
    return [sale_out(s, skus.get(s.sku_id, "")) for s in sales]


@staff.get("/{sale}", response_model=SaleLiveOut, responses=PROBLEMS)
async def sale_live(
    sale: str = SALE,
    principal: Principal = Depends(require(Perm.FLASHSALE_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> SaleLiveOut:
    """The sale and its figures now (the console polls this every second)."""
    found = await get_sale(uow.session, principal.require_tenant(), sale)
    skus = await sku_public_ids(uow.session, {found.sku_id})
    counts = await sale_counts(uow.session, found.id)
    base = sale_out(found, skus.get(found.sku_id, ""))
    return SaleLiveOut(**base.model_dump(), counts=counts_out(counts, gate_db.ATTEMPTS[found.id]))


def ticket_out(slug: str, ticket: TicketView) -> TicketOut:
    return TicketOut(
        status=ticket.status,
        request=ticket.request_id,
        order=ticket.order_public_id,
        pay_url=f"/m/{slug}/pay/{ticket.order_public_id}" if ticket.awaits_payment else None,
    )


def mall_sale_out(slug: str, sale: FlashSale | SaleShown, view: ShopperView) -> MallSaleOut:
    phase = sale.phase() if isinstance(sale, SaleShown) else service.phase(sale)
    return MallSaleOut(
        id=sale.public_id,
        title=sale.title,
        price_fen=sale.price_fen,
        list_fen=sale.list_fen,
        per_person_limit=sale.per_person_limit,
        reserve_from=sale.reserve_from,
        reserve_until=sale.reserve_until,
        starts_at=sale.starts_at,
        ends_at=sale.ends_at,
        phase=phase.value,
        now=clock.now(),
        reserved=view.reserved,
        sold_out=view.sold_out,
        ticket=ticket_out(slug, view.ticket) if view.ticket else None,
    )


@mall.get("", response_model=MallSaleOut, responses=PROBLEMS)
async def mall_sale(
    slug: str,
    sale: str = SALE,
    shopper: Shopper | None = Depends(optional_shopper),
    uow: UnitOfWork = Depends(read_uow),
) -> MallSaleOut:
    from loopmall.customers.service import tenant_for_slug

    tenant = shopper.tenant if shopper else await tenant_for_slug(uow.session, slug)
    # Two statements: the part every visitor sees alike, then units left and the shopper's own.
    found = SaleShown.of(await sale_for_everyone(uow.session, tenant, sale))
    customer_id = shopper.customer_id if shopper else None
    view = await visitor_view(uow.session, tenant, found.id, customer_id)
    return mall_sale_out(slug, found, view)


@mall.post("/reservation", response_model=MallSaleOut, status_code=201, responses=PROBLEMS)
async def reserve(
    slug: str,
    sale: str = SALE,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Reserve the sale (again: no change, same answer)."""
    found = await get_sale(uow.session, shopper.tenant, sale)
    await service.reserve(uow.session, shopper.tenant, found, shopper.customer_id)
    view = await shopper_view(uow.session, shopper.tenant, found, shopper.customer_id)
    out = mall_sale_out(slug, found, view)
    await uow.commit()
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@mall.post("/token", response_model=TokenOut, status_code=201, responses=PROBLEMS)
async def sale_token(
    request: Request,
    sale: str = SALE,
    shopper: Shopper = Depends(require_shopper),
    uow: UnitOfWork = Depends(read_uow),
) -> JSONResponse:
    """A signed one-time token for one attempt at the gate (reservation holders only).

    The whole crowd asks at the countdown: the sale comes from the process's cache and the
    reservation from one probe (``sale_cache``), nothing else is read."""
    state = get_state(request)
    found = await sale_cache(state).get(shopper.tenant, sale)
    now = clock.now()
    current = found.phase(now)
    if current in (Phase.ENDED, Phase.CANCELLED):
        raise SaleNotLive(phase=current.value, starts_at=found.starts_at.isoformat())
    if not await holds_reservation(state, uow, found, shopper.customer_id):
        raise NotReserved()
    token = tokens.issue_token(
        get_state(request).settings.secret_key,
        sale_id=found.id,
        customer_id=shopper.customer_id,
        now=now,
    )
    expires = tokens.verify_token(
        get_state(request).settings.secret_key, token, sale_id=found.id, now=now
    ).expires_at
    return JSONResponse(
        TokenOut(token=token, expires_at=expires).model_dump(mode="json"), status_code=201
    )


@mall.get("/ticket", response_model=TicketOut, responses=PROBLEMS)
async def my_ticket(
    request: Request,
    slug: str,
    sale: str = SALE,
    shopper: Shopper = Depends(require_shopper),
) -> TicketOut:
    """The shopper's ticket; while it waits for its order, this call makes the orders
    (or waits for the drain that is making them)."""
    state = get_state(request)
    for attempt in range(2):
        async with UnitOfWork(state.read_factory) as uow:
            found = await get_sale(uow.session, shopper.tenant, sale)
            view = await shopper_view(uow.session, shopper.tenant, found, shopper.customer_id)
        if view.ticket is None:
            raise NotFound("You have no ticket in this sale")
        if view.ticket.status != "accepted" or attempt:
            break
        await pending.drain(state, shopper.tenant, found.id)
    assert view.ticket is not None
    return ticket_out(slug, view.ticket)


@mall.post("/buy", response_model=BuyOut, responses=PROBLEMS, dependencies=[SIGNED])
async def buy(
    body: BuyIn,
    request: Request,
    slug: str,
    sale: str = SALE,
    uow: UnitOfWork = Depends(write_uow),
) -> BuyOut:
    """One attempt at the gate with a sale token (the token names the buyer)."""
    from loopmall.customers.service import tenant_for_slug

    state = get_state(request)
    tenant = await tenant_for_slug(uow.session, slug)
    found = await get_sale(uow.session, tenant, sale)
    now = clock.now()
    current = service.phase(found, now)
    if current is not Phase.LIVE:
        raise SaleNotLive(phase=current.value, starts_at=found.starts_at.isoformat())
    claim = tokens.verify_token(state.settings.secret_key, body.token, sale_id=found.id, now=now)
    answer = await gate_db.try_buy(
        uow.session,
        tenant,
        found,
        claim.customer_id,
        nonce=claim.nonce,
        ip=client_ip(request),
    )
    await uow.commit()
    pending.kick(state, tenant, found.id)
    return BuyOut(status=answer.status, request=answer.request_id, sale=found.public_id)


router.include_router(staff)
router.include_router(mall)
