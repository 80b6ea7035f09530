"""The mall's payment pages: the pay page of an order and the face-to-face page of a
payment code (收款码). Console pages live in ``console_pages`` and are included here.

The pay page offers the ways of paying the merchant's accounts take — JSAPI only inside
WeChat (``MicroMessenger`` in the user agent) when we know the customer's openid, H5 only
outside it — shows the QR code (Native, Alipay), the JSAPI parameters, the H5 redirect or
the sandbox button, and polls ``…/status`` until the order is paid.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from loopmall.core.errors import LoopmallError, NotFound, ValidationFailed
from loopmall.core.http import client_ip, get_state
from loopmall.core.money import parse_yuan
from loopmall.core.uow import UnitOfWork
from loopmall.customers.mall_page import VisitorPage, mall_visitor
from loopmall.integrations.payment_provider import PayMethod
from loopmall.orders import service as orders
from loopmall.payments import accounts, codes, flows, sandbox, service
from loopmall.payments import shopper as shoppers
from loopmall.payments.console_pages import router as console_router
from loopmall.payments.rules import PAID_STATES, PaymentCodeNotFound
from loopmall.web import qr
from loopmall.web.i18n import pick_locale
from loopmall.web.templating import translator

router = APIRouter(include_in_schema=False)
router.include_router(console_router)

Slug = Path(..., max_length=60, pattern=r"^[a-z0-9-]+$")
OrderId = Path(..., max_length=40, pattern=r"^[a-z0-9_]+$")
CodePath = Path(..., max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
PaymentParam = Query(None, max_length=40, pattern=r"^[a-z0-9_]+$")
PRODUCTION_HOSTS = ("api.mch.weixin.qq.com", "openapi.alipay.com")


def in_wechat(request: Request) -> bool:
    return "MicroMessenger" in request.headers.get("user-agent", "")


def offered(methods: list[PayMethod], request: Request, shopper: Any) -> list[PayMethod]:
    """The ways of paying to show on this device."""
    wechat = in_wechat(request)
    has_openid = bool(getattr(shopper, "openid", None))
    shown = []
    for method in methods:
        if method is PayMethod.WECHAT_JSAPI and not (wechat and has_openid):
            continue
        if method is PayMethod.WECHAT_H5 and wechat:
            continue
        shown.append(method)
    if wechat and has_openid and PayMethod.WECHAT_JSAPI in shown:
        shown.remove(PayMethod.WECHAT_JSAPI)
        shown.insert(0, PayMethod.WECHAT_JSAPI)
    return shown


def _labels(_: Any) -> dict[str, str]:
    return {
        "wechat_jsapi": _("WeChat Pay"),
        "wechat_native": _("WeChat Pay (scan QR code)"),
        "wechat_h5": _("WeChat Pay (H5)"),
        "alipay_qr": _("Alipay (scan QR code)"),
        "sandbox": _("Sandbox payment (demo)"),
    }


def _error_text(_: Any, code: str) -> str:
    texts = {
        "order_not_payable": _("This order is no longer waiting for payment."),
        "payment_start_failed": _(
            "The payment service refused to start the payment. Try another way of paying."
        ),
        "payment_account_missing": _("This way of paying is not available."),
        "payment_method_unavailable": _("This way of paying is not available."),
        "validation_failed": _("Enter an amount from 0.01 to 1,000,000 yuan."),
    }
    return texts.get(code, _("That did not work. Please try again."))


def _done_url(slug: str, order: orders.PayableOrder, payment_public_id: str | None) -> str:
    if order.customer_id is None:  # an anonymous face-to-face payment: its receipt is here
        query = f"?payment={payment_public_id}" if payment_public_id else ""
        return f"/m/{slug}/pay/{order.public_id}{query}"
    return f"/m/{slug}/orders/{order.public_id}"


def _demo_payer_url(request: Request, start: dict[str, Any], method: str) -> str | None:
    """Outside production, a link to the stand-in's payer page for a QR code (the demo has
    no phone to scan with)."""
    settings = get_state(request).settings
    qr = start.get("qr_content")
    if not qr or settings.env == "prod":
        return None
    if method == PayMethod.WECHAT_NATIVE.value and not any(
        h in settings.wechatpay_base_url for h in PRODUCTION_HOSTS
    ):
        return (
            f"{settings.wechatpay_base_url.rstrip('/')}/_standin/scan?{urlencode({'code_url': qr})}"
        )
    if method == PayMethod.ALIPAY_QR.value and not any(
        h in settings.alipay_gateway_url for h in PRODUCTION_HOSTS
    ):
        return qr if qr.startswith("http") else None
    return None


async def _context(page: VisitorPage, order_public_id: str, payment_public_id: str | None) -> Any:
    state = get_state(page.request)
    shopper, tenant, look = page.customer, page.tenant, page.mall
    async with UnitOfWork(state.read_factory) as uow:
        order = await orders.get_payable_by_public_id(uow.session, tenant, order_public_id)
        methods = await accounts.available_methods(uow.session, tenant)
        payment = None
        if payment_public_id:
            payment = await service.get_payment(uow.session, tenant, payment_public_id)
            if payment.order_id != order.id:
                raise NotFound("No such payment")
        else:
            payment = await service.latest_for_order(uow.session, tenant, order.id)
    return state, shopper, tenant, look, order, methods, payment


@router.get("/m/{slug}/pay/{order}")
async def pay_page(
    request: Request,
    slug: str = Slug,
    order: str = OrderId,
    payment: str | None = PaymentParam,
    error: str | None = Query(None, max_length=40, pattern=r"^[a-z_]+$"),
    page: VisitorPage = Depends(mall_visitor),
) -> Response:
    state, shopper, _tenant, _look, found, methods, attempt = await _context(page, order, payment)
    if found.customer_id is not None:
        if shopper is None:
            page.login_required()
        if shopper.customer_id != found.customer_id:
            raise NotFound("No such order")
    _ = translator(pick_locale(request))
    paid = found.paid_fen > 0 or (attempt is not None and attempt.state in PAID_STATES)
    if paid and found.customer_id is not None:
        return RedirectResponse(_done_url(slug, found, None), status_code=303)
    current = attempt if attempt is not None and attempt.state in ("created", "pending") else None
    start = dict(current.start) if current else {}
    return page.render(
        "payments/pay.html",
        {
            "order": found,
            "paid": paid,
            "payable": found.status == "created" and not paid,
            "methods": offered(methods, request, shopper),
            "labels": _labels(_),
            "attempt": current,
            "start": start,
            "qr_image": qr.qr_data_uri(start["qr_content"]) if start.get("qr_content") else None,
            "demo_payer_url": _demo_payer_url(request, start, current.method) if current else None,
            "status_url": f"/m/{slug}/pay/{found.public_id}/status"
            + (f"?payment={current.public_id}" if current else ""),
            "error_text": _error_text(_, error) if error else "",
            "sandbox_demo": state.settings.sandbox_payments,
            # Inside WeChat without an openid: JSAPI needs one, and logging in gets it.
            "wechat_login_url": page.login_href(request.url.path)
            if in_wechat(request)
            and not getattr(shopper, "openid", None)
            and PayMethod.WECHAT_JSAPI in methods
            else None,
        },
        tab="orders",
    )


@router.post("/m/{slug}/pay/{order}")
async def start_from_page(
    request: Request,
    slug: str = Slug,
    order: str = OrderId,
    method: str = Form(..., max_length=20),
    page: VisitorPage = Depends(mall_visitor),
) -> Response:
    state = get_state(request)
    shopper, tenant = page.customer, page.tenant
    try:
        started = await flows.start_payment(
            state,
            tenant,
            order_public_id=order,
            method=accounts.parse_method(method),
            customer_id=shopper.customer_id if shopper else None,
            openid=getattr(shopper, "openid", None),
            client_ip=client_ip(request),
        )
    except LoopmallError as exc:
        if exc.status in (401, 404):
            raise
        return RedirectResponse(f"/m/{slug}/pay/{order}?error={exc.code}", status_code=303)
    redirect = started.start.get("redirect_url")
    if redirect and started.method == PayMethod.WECHAT_H5.value:
        base = state.settings.base_url.rstrip("/")
        back = f"{base}/m/{slug}/pay/{order}?payment={started.payment_public_id}"
        return RedirectResponse(f"{redirect}&{urlencode({'redirect_url': back})}", status_code=303)
    return RedirectResponse(
        f"/m/{slug}/pay/{order}?payment={started.payment_public_id}", status_code=303
    )


@router.post("/m/{slug}/pay/{order}/sandbox")
async def sandbox_pay(
    request: Request,
    slug: str = Slug,
    order: str = OrderId,
    payment: str = Form(..., max_length=40, pattern=r"^[a-z0-9_]+$"),
    page: VisitorPage = Depends(mall_visitor),  # (checks a signed-in customer's CSRF)
) -> Response:
    state = get_state(request)
    sandbox.require_enabled(state.settings)  # 403 sandbox_payments_disabled, nothing changes
    shopper, tenant = page.customer, page.tenant
    async with UnitOfWork(state.read_factory) as uow:
        await service.get_payment_of(
            uow.session, tenant, payment, getattr(shopper, "customer_id", None)
        )
    await flows.sandbox_pay(state, request.app, tenant, payment)
    return RedirectResponse(f"/m/{slug}/pay/{order}?payment={payment}", status_code=303)


@router.get("/m/{slug}/pay/{order}/status")
async def pay_status(
    slug: str = Slug,
    order: str = OrderId,
    payment: str | None = PaymentParam,
    page: VisitorPage = Depends(mall_visitor),
) -> JSONResponse:
    """What the pay page polls: paid yet? (An open attempt is queried at the provider after
    a while: query-on-return.)"""
    state, shopper, tenant, _look, found, _methods, attempt = await _context(page, order, payment)
    if found.customer_id is not None and getattr(shopper, "customer_id", None) != found.customer_id:
        raise NotFound("No such order")
    if attempt is not None:
        attempt = await flows.refresh_payment(state, tenant, attempt.public_id)
    async with UnitOfWork(state.read_factory) as uow:
        found = await orders.get_payable(uow.session, tenant, found.id)
    paid = found.paid_fen > 0 or (attempt is not None and attempt.state in PAID_STATES)
    return JSONResponse(
        {
            "order_status": found.status,
            "payment_state": attempt.state if attempt else None,
            "paid": paid,
            "next": _done_url(slug, found, attempt.public_id if attempt else None)
            if paid
            else None,
        }
    )


@router.get("/m/{slug}/qr/{code}")
async def code_page(
    request: Request,
    slug: str = Slug,
    code: str = CodePath,
    page: VisitorPage = Depends(mall_visitor),
) -> Response:
    state = get_state(request)
    shopper, tenant = page.customer, page.tenant
    async with UnitOfWork(state.read_factory) as uow:
        view = await codes.get_code(uow.session, tenant, code)
        methods = await accounts.available_methods(uow.session, tenant)
    _ = translator(pick_locale(request))
    shown = page.render(
        "payments/code.html",
        {
            "view": view,
            "methods": offered(methods, request, shopper),
            "labels": _labels(_),
            "error_text": "",
            "amount": "",
        },
        tab="home",
    )
    # The payer's device has its visitor id before it pays: its Idempotency-Keys' scope.
    shoppers.device_visitor(request, shown)
    return shown


@router.post("/m/{slug}/qr/{code}")
async def pay_by_code(
    request: Request,
    slug: str = Slug,
    code: str = CodePath,
    amount: str = Form(..., max_length=20),
    method: str = Form(..., max_length=20),
    note: str = Form("", max_length=100),
    page: VisitorPage = Depends(mall_visitor),
) -> Response:
    state = get_state(request)
    shopper, tenant = page.customer, page.tenant
    _ = translator(pick_locale(request))
    async with UnitOfWork(state.write_factory) as uow:
        view = await codes.get_code(uow.session, tenant, code)
        try:
            try:
                amount_fen = parse_yuan(amount)
            except ValueError:
                raise ValidationFailed("not an amount", field="amount") from None
            chosen = accounts.parse_method(method)
            made = await codes.pay_by_code(
                uow.session,
                tenant,
                code,
                amount_fen=amount_fen,
                customer_id=shopper.customer_id if shopper else None,
                note=note,
            )
            await uow.commit()
        except PaymentCodeNotFound:
            raise
        except LoopmallError as exc:
            methods = await accounts.available_methods(uow.session, tenant)
            return page.render_refused(
                "payments/code.html",
                {
                    "view": view,
                    "methods": offered(methods, request, shopper),
                    "labels": _labels(_),
                    "amount": amount,
                },
                errors={"error_text": _error_text(_, exc.code)},
                status_code=exc.status,
                tab="home",
            )
    # The pay page's form does the rest (same start path as any order).
    return await start_from_page(
        request, slug=slug, order=made.public_id, method=chosen.value, page=page
    )
