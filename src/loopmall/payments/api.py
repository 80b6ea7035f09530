"""JSON routes of payments: provider callbacks, the shopper's payments, staff reads,
refunds, accounts, reconciliation and payment codes.

Starting a payment is idempotent by design: the same order and way of paying return the
same open attempt (for ``service.REUSE_FOR``), so a retried POST never opens a second trade.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from loopmall.core.errors import ValidationFailed
from loopmall.core.http import client_ip, get_state, read_uow, write_uow
from loopmall.core.idempotency import run_idempotent
from loopmall.core.pagination import Page
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from loopmall.core.text import PlainText
from loopmall.core.uow import UnitOfWork
from loopmall.identity.deps import require
from loopmall.identity.guards import MALL, SIGNED
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal
from loopmall.integrations.payment_provider import PayMethod
from loopmall.merchants.shell import open_mall
from loopmall.payments import (
    accounts,
    callbacks,
    codes,
    flows,
    reconciliation,
    refunds,
    sandbox,
    service,
)
from loopmall.payments import shopper as shoppers
from loopmall.payments.rules import MethodUnavailable
from loopmall.payments.schemas import (
    AccountIn,
    AccountOut,
    CodeOut,
    FaceToFaceIn,
    PaymentOut,
    PaymentStartIn,
    PaymentStartOut,
    ReconcileIn,
    RefundIn,
    RefundOut,
    ReportOut,
    account_out,
    payment_out,
    refund_out,
    report_out,
)

router = APIRouter(tags=["payments"])

Slug = Path(..., max_length=60, pattern=r"^[a-z0-9-]+$")
PublicId = Path(..., max_length=40, pattern=r"^[a-z0-9_]+$")


def _started_out(started: flows.Started) -> PaymentStartOut:
    return PaymentStartOut(
        payment=started.payment_public_id,
        order=started.order_public_id,
        method=started.method,
        state=started.state,
        amount_fen=started.amount_fen,
        qr_content=started.start.get("qr_content"),
        redirect_url=started.start.get("redirect_url"),
        jsapi_params=started.start.get("jsapi_params"),
    )


# --- callbacks ------------------------------------------------------------------------


@router.post(
    "/payments/callbacks/{provider}/{account}", include_in_schema=False, dependencies=[SIGNED]
)
async def provider_callback(
    request: Request,
    provider: str = Path(..., pattern=r"^(wechatpay|alipay|sandbox)$"),
    account: str = Path(..., max_length=40),
) -> Response:
    """A provider's notification: verified, recorded, applied once; the answer is the one
    the provider expects (so it retries exactly when it should)."""
    if provider == "sandbox":  # signed by our own secret: only while the sandbox is on
        sandbox.require_enabled(get_state(request).settings)
    body = await request.body()
    handled = await callbacks.handle_callback(
        get_state(request), provider, account, dict(request.headers), body
    )
    reply = handled.reply
    return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)


# --- the shopper's payments -------------------------------------------------------------


async def _mall(uow: UnitOfWork, slug: str) -> Tenant:
    tenant, _look = await open_mall(uow.session, slug)
    return tenant


async def _mall_of(state: AppState, shopper: Any, slug: str) -> Tenant:
    """The open mall: a logged-in shopper's session already found it (an active merchant
    with this slug), so only an anonymous payer's request looks it up."""
    if shopper is not None:
        tenant: Tenant = shopper.tenant
        return tenant
    async with UnitOfWork(state.read_factory) as uow:
        return await _mall(uow, slug)


@router.post(
    "/mall/{slug}/payments", status_code=201, response_model=PaymentStartOut, dependencies=[MALL]
)
async def start_payment(
    body: PaymentStartIn, request: Request, slug: str = Slug
) -> PaymentStartOut:
    """Start paying one of the shopper's orders (or show the open attempt again): a QR
    content for Native / Alipay, jsapi_params for JSAPI, a redirect for H5, nothing extra
    for the sandbox. 404 for another's order, 409 `order_not_payable` when it is not
    waiting for payment, 409 `payment_start_failed` when the provider refuses."""
    state = get_state(request)
    shopper = await shoppers.optional(request, slug)
    tenant = await _mall_of(state, shopper, slug)
    openid = getattr(shopper, "openid", None) or body.openid
    if body.method is PayMethod.WECHAT_JSAPI and not openid:
        raise MethodUnavailable("JSAPI needs the customer's openid", field="method")
    started = await flows.start_payment(
        state,
        tenant,
        order_public_id=body.order,
        method=body.method,
        customer_id=shopper.customer_id if shopper else None,
        openid=openid,
        client_ip=client_ip(request),
    )
    return _started_out(started)


@router.get("/mall/{slug}/payments/{payment}", response_model=PaymentOut, dependencies=[MALL])
async def read_payment(request: Request, slug: str = Slug, payment: str = PublicId) -> PaymentOut:
    """The attempt's state; an attempt open for a while is queried at the provider first
    (query-on-return), so a lost callback does not leave the customer waiting."""
    state = get_state(request)
    shopper = await shoppers.optional(request, slug)
    tenant = await _mall_of(state, shopper, slug)
    async with UnitOfWork(state.read_factory) as uow:
        await service.get_payment_of(uow.session, tenant, payment, _customer(shopper))
    found = await flows.refresh_payment(state, tenant, payment)
    return payment_out(found, with_start=True)


def _customer(shopper: object) -> int | None:
    customer_id: int | None = getattr(shopper, "customer_id", None)
    return customer_id


@router.post(
    "/mall/{slug}/payments/{payment}/sandbox-pay", response_model=PaymentOut, dependencies=[MALL]
)
async def sandbox_pay(request: Request, slug: str = Slug, payment: str = PublicId) -> PaymentOut:
    """The sandbox's pay button (demo): a signed callback reaches our callback route.
    403 `sandbox_payments_disabled` (and nothing changes) unless sandbox payments are on."""
    state = get_state(request)
    sandbox.require_enabled(state.settings)
    shopper = await shoppers.optional(request, slug)
    async with UnitOfWork(state.read_factory) as uow:
        tenant = await _mall(uow, slug)
        await service.get_payment_of(uow.session, tenant, payment, _customer(shopper))
    outcome = await flows.sandbox_pay(state, request.app, tenant, payment)
    if outcome is None:
        raise MethodUnavailable("This payment is not a sandbox payment", field="payment")
    async with UnitOfWork(state.read_factory) as uow:
        return payment_out(await service.get_payment(uow.session, tenant, payment))


@router.post(
    "/mall/{slug}/codes/{code}/payments",
    status_code=201,
    response_model=PaymentStartOut,
    dependencies=[MALL],
)
async def pay_by_code(
    body: FaceToFaceIn,
    request: Request,
    response: Response,
    slug: str = Slug,
    code: str = Path(..., max_length=40, pattern=r"^[A-Za-z0-9_-]+$"),
) -> PaymentStartOut:
    """Face-to-face (面对面收钱): an order for the typed amount, credited to the code's
    store/guide, and its payment started. Idempotent with `Idempotency-Key`, per payer: the
    logged-in shopper, else the device's visitor cookie (set on the answer when missing)."""
    state = get_state(request)
    shopper = await shoppers.optional(request, slug)
    scope = f"mall:{slug}:" + (
        f"customer:{shopper.customer_id}" if shopper else _payer_scope(request, response)
    )
    async with UnitOfWork(state.write_factory) as uow:
        tenant = await _mall(uow, slug)

        async def work() -> dict[str, str]:
            order = await codes.pay_by_code(
                uow.session,
                tenant,
                code,
                amount_fen=body.amount_fen,
                customer_id=shopper.customer_id if shopper else None,
                note=body.note,
            )
            return {"order": order.public_id}

        answer = await run_idempotent(request, uow, scope, work)
    order_public_id = _json(answer)["order"]
    started = await flows.start_payment(
        state,
        tenant,
        order_public_id=order_public_id,
        method=body.method,
        customer_id=shopper.customer_id if shopper else None,
        openid=getattr(shopper, "openid", None),
        client_ip=client_ip(request),
    )
    return _started_out(started)


def _payer_scope(request: Request, response: Response) -> str:
    """An anonymous payer's own namespace for Idempotency-Keys: the device's visitor id
    (the cookie QR scans set), or a new one given to the device now. Every passer-by once
    shared one scope, so the same key gave the second the first one's order (issue #11,
    case 18); a retry from the same device still replays. The code page gives the device
    its id before the first payment, so even a retry of a lost first answer replays."""
    return f"visitor:{shoppers.device_visitor(request, response)}"


def _json(response: JSONResponse) -> dict[str, str]:
    import json

    data: dict[str, str] = json.loads(bytes(response.body))
    return data


# --- staff ---------------------------------------------------------------------------------


@router.get("/payments", response_model=Page[PaymentOut])
async def list_payments(
    principal: Principal = Depends(require(Perm.ORDERS_READ)),
    uow: UnitOfWork = Depends(read_uow),
    state: str | None = Query(None, max_length=24, pattern=r"^[a-z_]+$"),
    provider: str | None = Query(None, pattern=r"^(wechatpay|alipay|sandbox)$"),
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=200),
) -> Page[PaymentOut]:
    """The merchant's payments (store-scoped staff: their stores' only), oldest first."""
    rows, next_cursor = await refunds.list_payments(
        uow.session,
        principal.require_tenant(),
        state=state,
        provider=provider,
        store_ids=principal.store_ids,
        cursor=cursor,
        limit=limit,
    )
    return Page[PaymentOut](items=[payment_out(p) for p in rows], next_cursor=next_cursor)


@router.post("/payments/refunds", status_code=201, response_model=RefundOut)
async def create_refund(
    body: RefundIn,
    request: Request,
    principal: Principal = Depends(require(Perm.PAYMENTS_REFUND)),
    uow: UnitOfWork = Depends(write_uow),
) -> JSONResponse:
    """Refund part or all of an order's payment. The refund is sent to the provider at once
    (outbox) and the order learns of it when the provider confirms. 409
    `refund_not_allowed` beyond what is left. Idempotent with `Idempotency-Key`."""
    tenant = principal.require_tenant()

    async def work() -> RefundOut:
        refund, payment = await refunds.refund_order(
            uow.session,
            tenant,
            body.order,
            amount_fen=body.amount_fen,
            reason=body.reason,
            actor=f"staff:{principal.public_id}",
            store_ids=principal.store_ids,
        )
        return refund_out(refund, payment.public_id)

    return await run_idempotent(request, uow, principal.scope, work)


@router.get("/payments/accounts", response_model=list[AccountOut])
async def list_accounts(
    request: Request,
    principal: Principal = Depends(require(Perm.SETTINGS_READ)),
    uow: UnitOfWork = Depends(read_uow),
) -> list[AccountOut]:
    settings = get_state(request).settings
    rows = await accounts.list_accounts(uow.session, principal.require_tenant())
    return [account_out(a, flows.notify_url(settings, a.provider, a.public_id)) for a in rows]


@router.put("/payments/accounts/{provider}", response_model=AccountOut)
async def configure_account(
    body: AccountIn,
    request: Request,
    provider: str = Path(..., pattern=r"^(wechatpay|alipay|sandbox)$"),
    principal: Principal = Depends(require(Perm.SETTINGS_WRITE)),
    uow: UnitOfWork = Depends(write_uow),
) -> AccountOut:
    """Set the merchant's credentials at a provider (replacing earlier ones)."""
    account = await accounts.configure_account(
        uow.session, principal.require_tenant(), provider, dict(body.credentials)
    )
    await uow.commit()
    settings = get_state(request).settings
    return account_out(account, flows.notify_url(settings, provider, account.public_id))


@router.get("/payments/reconciliation", response_model=list[ReportOut])
async def list_reports(
    principal: Principal = Depends(require(Perm.PAYMENTS_RECONCILE)),
    uow: UnitOfWork = Depends(read_uow),
) -> list[ReportOut]:
    """The daily reconciliation reports, newest day first."""
    rows = await reconciliation.list_reports(uow.session, principal.require_tenant())
    return [report_out(r) for r in rows]


@router.post("/payments/reconciliation", response_model=ReportOut)
async def run_reconciliation(
    body: ReconcileIn,
    request: Request,
    principal: Principal = Depends(require(Perm.PAYMENTS_RECONCILE)),
) -> ReportOut:
    """Reconcile one day now (Shanghai calendar day; a rerun replaces its report)."""
    try:
        day = date.fromisoformat(body.day)
    except ValueError:
        raise ValidationFailed("day is not a date", field="day") from None
    report = await reconciliation.reconcile_day(get_state(request), principal.require_tenant(), day)
    return report_out(report)


@router.get("/payments/codes", response_model=Page[CodeOut])
async def list_codes(
    request: Request,
    principal: Principal = Depends(require(Perm.ORDERS_READ)),
    store: str | None = Query(None, max_length=40, pattern=r"^[a-z0-9_]+$"),
    q: PlainText = Query("", max_length=50),
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=200),
) -> Page[CodeOut]:
    """A page of payment codes, stores first, then guides (a code is made the first time
    its store or guide is listed), with their URLs. ``store`` keeps one store's code and
    its guides'; ``q`` searches store and guide names. 404 for a store not yours."""
    tenant = principal.require_tenant()
    state = get_state(request)
    async with UnitOfWork(state.read_factory) as uow:
        store_id = await codes.store_filter(uow.session, tenant, store, principal.store_ids)
    query = codes.CodeQuery(store_ids=principal.store_ids, store=store_id, q=q.strip())
    page = await codes.shown_page(
        state.read_factory, state.write_factory, tenant, query, cursor=cursor, limit=limit
    )
    base = state.settings.base_url
    return Page[CodeOut](
        items=[
            CodeOut(
                id=v.code.public_id,
                url=codes.code_url(base, tenant.slug, v.code.code),
                store=v.store_public_id,
                guide=v.guide_public_id,
                label=v.label,
            )
            for v in page.views
        ],
        next_cursor=page.next_cursor,
    )
